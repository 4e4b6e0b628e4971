"""A resolver of the project's own: the customer named by an API key header."""

from __future__ import annotations

from django_omnitenant.resolvers.base import BaseTenantResolver
from omnitenant_context import RequestLike, Tenant, is_valid_identifier

API_KEY_HEADER = "X-Customer"


class ApiKeyResolver(BaseTenantResolver):
    """``X-Customer: acme`` is tenant ``acme``; no header or a bad one is no tenant."""

    def resolve(self, request: RequestLike) -> Tenant | None:
        tenant_id = request.headers.get(API_KEY_HEADER, "").strip().lower()
        if not is_valid_identifier(tenant_id):
            return None
        return self.store.get_by_id(tenant_id)
