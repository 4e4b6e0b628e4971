"""The ASGI application of the Channels tests, as a project's asgi.py builds it.

Served in-process through Channels' communicators and, once, by daphne in a child
process over a real WebSocket.
"""

from __future__ import annotations

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()  # first: it sets Django up

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from django_omnitenant.channels import TenantChannelsMiddleware  # noqa: E402
from tests.channels.consumers import (  # noqa: E402
    ChatConsumer,
    RedisChatConsumer,
    WhoAmIConsumer,
    WhoAmIHttpConsumer,
)

websocket_urlpatterns = [
    path("ws/whoami/", WhoAmIConsumer.as_asgi()),
    path("ws/chat/", ChatConsumer.as_asgi()),
    path("ws/redis-chat/", RedisChatConsumer.as_asgi()),
]

application = ProtocolTypeRouter(
    {
        "http": TenantChannelsMiddleware(
            URLRouter([path("consumer/whoami/", WhoAmIHttpConsumer.as_asgi())])
        ),
        "websocket": TenantChannelsMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
