"""``CustomDomainTenantResolver``: the tenant that owns the request's host."""

from __future__ import annotations

from django_omnitenant.resolvers.base import BaseTenantResolver
from omnitenant_resolvers import CustomDomainTenantResolver as _Resolver

__all__ = ["CustomDomainTenantResolver"]


class CustomDomainTenantResolver(BaseTenantResolver, _Resolver):
    """Looks the host up among the domain records (the default ``TENANT_RESOLVER``)."""
