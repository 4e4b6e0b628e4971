"""The example's views: the public host's sign-up page, and each tenant's home."""

from customers.models import Tenant
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from notes.models import Note

WELCOME_FILE = "welcome.txt"  # written into each tenant's media folder by setup_demo


def public_home(request: HttpRequest) -> HttpResponse:
    """localhost: the list of tenants (demo.urls_public, the public host's URLconf)."""
    _, _, port = request.get_host().rpartition(":")
    suffix = f":{port}" if port.isdigit() else ""
    return render(request, "public.html", {"tenants": Tenant.objects.all(), "port": suffix})


def tenant_home(request: HttpRequest) -> HttpResponse:
    """<tenant>.localhost: the tenant's notes and file (demo.urls, the tenants' URLconf)."""
    tenant = request.tenant  # type: ignore[attr-defined]  # set by TenantMiddleware
    # The tenant's own folder of the media storage (var/media/<tenant id>/).
    welcome = None
    if default_storage.exists(WELCOME_FILE):
        with default_storage.open(WELCOME_FILE) as handle:
            welcome = handle.read().decode()
    return render(
        request,
        "tenant.html",
        {
            "tenant": tenant,
            "notes": Note.objects.all(),
            "welcome": welcome,
            "welcome_url": default_storage.url(WELCOME_FILE),
        },
    )
