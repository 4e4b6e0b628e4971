"""Template context processor: the active tenant as ``{{ tenant }}``.

Add ``"django_omnitenant.context_processors.tenant"`` to ``TEMPLATES[...]["OPTIONS"]
["context_processors"]``.
"""

from __future__ import annotations

from django.http import HttpRequest

from omnitenant_context import Tenant, TenantContext

__all__ = ["tenant"]


def tenant(request: HttpRequest) -> dict[str, Tenant | None]:
    """``{"tenant": <the active tenant or None>}``, as ``TenantMiddleware`` entered it."""
    return {"tenant": TenantContext.get_tenant()}
