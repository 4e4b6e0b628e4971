"""``TenantChannelsMiddleware``: the tenant of a Channels scope, for the consumer's life."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.sync import sync_to_async
from channels.security.websocket import WebsocketDenier
from django.core.exceptions import SynchronousOnlyOperation
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse

from django_omnitenant.middleware import TenantMiddleware, _Resolution
from omnitenant_context import TenantContext

__all__ = ["TenantChannelsMiddleware"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[Any]]


def _no_view(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
    raise AssertionError("TenantChannelsMiddleware only asks TenantMiddleware to decide.")


class TenantChannelsMiddleware:
    """ASGI middleware for Channels: resolves the scope's tenant as ``TenantMiddleware`` does.

    Sets ``scope["tenant"]`` (``None`` on the public host) and runs the inner application
    (a ``URLRouter``, a consumer) inside the tenant. Lifespan and other scope types pass
    through untouched. With a path resolver, the tenant's segment is added to the scope's
    ``root_path``, which ``URLRouter`` and Django strip before routing.
    """

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner
        # The one place where a tenant is decided: the HTTP middleware's own resolution
        # (resolver, cached store, public host, unknown-host policy), never a copy.
        self._decider = TenantMiddleware(_no_view)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] not in ("http", "websocket"):
            return await self.inner(scope, receive, send)
        request = request_from_scope(scope)
        try:
            resolution = self._decider._resolve(request)
        except SynchronousOnlyOperation:
            # A cache miss needs the ORM, which may not run on the event loop.
            resolution = await sync_to_async(self._resolve_in_thread)(request)
        if resolution.response is not None:
            return await _refuse(scope, receive, send, resolution.response.status_code)
        scope = dict(scope, tenant=resolution.tenant)
        if resolution.mount is not None:
            scope["root_path"] = scope.get("root_path", "").rstrip("/") + resolution.mount
        with TenantContext.use_state(resolution.state):
            return await self.inner(scope, receive, send)

    def _resolve_in_thread(self, request: HttpRequest) -> _Resolution:
        try:
            return self._decider._resolve(request)
        finally:
            # What request_finished does for a view: the lookup's connection is not
            # left open in the worker thread past CONN_MAX_AGE. Called here, in the
            # context that made the connection, so that it sees it.
            close_old_connections()


def request_from_scope(scope: Scope) -> HttpRequest:
    """A Django request with the scope's host, headers and path, for the resolver.

    ``get_host()`` then validates the host against ``ALLOWED_HOSTS`` exactly as for an
    HTTP request.
    """
    request = HttpRequest()
    path: str = scope.get("path", "") or "/"
    root_path: str = scope.get("root_path", "")
    request.path = path
    request.path_info = path[len(root_path) :] if root_path and path.startswith(root_path) else path
    meta = request.META
    server = scope.get("server") or ("", "")
    meta["SERVER_NAME"], meta["SERVER_PORT"] = str(server[0]), str(server[1] or "")
    meta["SCRIPT_NAME"] = root_path
    meta["PATH_INFO"] = request.path_info
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        key = name if name in ("CONTENT_LENGTH", "CONTENT_TYPE") else f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        meta[key] = f"{meta[key]},{value}" if key in meta else value
    return request


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int) -> None:
    if scope["type"] == "websocket":
        # Deny the handshake: the server answers 403 and no consumer ever runs.
        denier = WebsocketDenier.as_asgi()  # type: ignore[no-untyped-call]  # Channels is untyped
        await denier(scope, receive, send)
        return
    body = b"Bad Request: invalid host." if status == 400 else b"Not Found: unknown host."
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})
