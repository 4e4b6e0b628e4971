"""Middleware that only runs for requests served inside a tenant.

An app in ``TENANT_APPS`` whose middleware queries its own models on every request
breaks the public host (and with it the master's admin): there is no tenant, so the
query raises ``NoTenantActive``. Wrap that middleware::

    # mysite/middleware.py
    from django_omnitenant.hostkinds import tenant_only

    AuditForTenants = tenant_only("audit.middleware.AuditMiddleware")

    # settings.py
    MIDDLEWARE = [
        "django_omnitenant.middleware.TenantMiddleware",
        ...,
        "mysite.middleware.AuditForTenants",   # instead of audit.middleware.AuditMiddleware
    ]

Requests with a tenant go through the wrapped middleware (its ``__call__`` and its
``process_view`` / ``process_exception`` / ``process_template_response`` hooks);
requests without one (``request.tenant is None``) skip it. The other ways out: list the
app in ``SHARED_APPS`` (its tables then also exist in the master), or give the public
host its own ``PUBLIC_URLCONF`` and views that need none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from django.utils.module_loading import import_string

__all__ = ["tenant_only"]

_HOOKS = ("process_view", "process_exception", "process_template_response")


def tenant_only(middleware: str | type[Any]) -> type[Any]:
    """A middleware class running ``middleware`` (a class or dotted path) in tenants only."""
    inner_class: type[Any] = (
        import_string(middleware) if isinstance(middleware, str) else middleware
    )

    class TenantOnlyMiddleware:
        sync_capable = getattr(inner_class, "sync_capable", True)
        async_capable = getattr(inner_class, "async_capable", False)

        def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
            self.get_response = get_response
            self.inner = inner_class(get_response)
            if iscoroutinefunction(get_response):
                markcoroutinefunction(self)

        def __call__(self, request: HttpRequest) -> Any:
            # Under ASGI both return a coroutine, which Django awaits.
            if getattr(request, "tenant", None) is None:
                return self.get_response(request)
            return self.inner(request)

    for hook in _HOOKS:
        if hasattr(inner_class, hook):
            setattr(TenantOnlyMiddleware, hook, _forward_in_tenants(hook))
    TenantOnlyMiddleware.__name__ = TenantOnlyMiddleware.__qualname__ = (
        f"TenantOnly{inner_class.__name__}"
    )
    return TenantOnlyMiddleware


def _forward_in_tenants(hook: str) -> Callable[..., Any]:
    def forward(self: Any, request: HttpRequest, *args: Any) -> Any:
        if getattr(request, "tenant", None) is None:
            # What Django expects from a hook with nothing to do.
            return args[-1] if hook == "process_template_response" else None
        return getattr(self.inner, hook)(request, *args)

    return forward
