"""Channels integration: consumers run in the tenant of the host they were reached on.

Channels is an optional extra: ``pip install "omnitenant-django[channels]"``. In the
project's ``asgi.py``::

    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.core.asgi import get_asgi_application

    django_app = get_asgi_application()  # first: it sets Django up

    from django_omnitenant.channels import TenantChannelsMiddleware

    application = ProtocolTypeRouter({
        "http": django_app,  # TenantMiddleware (MIDDLEWARE) serves Django's views
        "websocket": TenantChannelsMiddleware(URLRouter(websocket_urlpatterns)),
    })

:class:`TenantChannelsMiddleware` decides exactly as ``TenantMiddleware`` does (it asks
the same middleware class, hence the same resolver, cached store, ``PUBLIC_HOST`` and
``UNKNOWN_HOST``), then runs the consumer inside the tenant for its whole life: every
handler, every ``database_sync_to_async`` call (the context is copied into the thread)
and every group message it receives. An unknown host is refused: a WebSocket handshake
is denied (the server answers 403), an HTTP request gets the middleware's 404 or 400.

Group names are namespaced per tenant by the channel layer classes of this package
(:class:`TenantInMemoryChannelLayer`,
:class:`django_omnitenant.channels.redis.TenantRedisChannelLayer`, or
:class:`TenantGroupsMixin` on any layer): ``group_add("chat", ...)`` inside tenant
``acme`` joins ``t.acme.chat``, so a ``group_send("chat", ...)`` in another tenant never
reaches acme's sockets.
"""

from __future__ import annotations

try:
    import channels  # noqa: F401 - only to fail early with the extra's name
except ImportError as exc:  # pragma: no cover - the test envs install channels
    raise ImportError(
        "django_omnitenant.channels needs Channels: install it with "
        "pip install 'omnitenant-django[channels]'."
    ) from exc

from django_omnitenant.channels._groups import (
    TenantGroupsMixin,
    TenantInMemoryChannelLayer,
    tenant_group_name,
)
from django_omnitenant.channels._middleware import TenantChannelsMiddleware

__all__ = [
    "TenantChannelsMiddleware",
    "TenantGroupsMixin",
    "TenantInMemoryChannelLayer",
    "tenant_group_name",
]
