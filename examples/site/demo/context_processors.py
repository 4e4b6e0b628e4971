"""What every page of the example needs: the tenant of the host and the public page's URL."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def port_suffix(request: HttpRequest) -> str:
    """``:8000`` when the request came to a port, so links to other hosts keep it."""
    _, _, port = request.get_host().rpartition(":")
    return f":{port}" if port.isdigit() else ""


def url_of_host(request: HttpRequest, host: str) -> str:
    """The root URL of ``host`` on this server (same scheme and port as ``request``)."""
    return f"{request.scheme}://{host}{port_suffix(request)}/"


def site(request: HttpRequest) -> dict[str, object]:
    return {
        "tenant": getattr(request, "tenant", None),
        "public_url": url_of_host(request, settings.OMNITENANT_CONFIG["PUBLIC_HOST"]),
    }
