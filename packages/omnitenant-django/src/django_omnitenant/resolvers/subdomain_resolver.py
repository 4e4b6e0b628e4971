"""``SubdomainTenantResolver``: the tenant id is the first label under ``PUBLIC_HOST``."""

from __future__ import annotations

from django_omnitenant.conf import app_settings
from django_omnitenant.resolvers.base import BaseTenantResolver
from omnitenant_context import ConfigurationError, TenantStore
from omnitenant_resolvers import SubdomainTenantResolver as _Resolver

__all__ = ["SubdomainTenantResolver"]


class SubdomainTenantResolver(BaseTenantResolver, _Resolver):
    """``acme.example.com`` is tenant ``acme`` when ``PUBLIC_HOST`` is ``example.com``."""

    def __init__(self, base_domain: str | None = None, store: TenantStore | None = None) -> None:
        if base_domain is None:
            base_domain = app_settings().public_host
            if base_domain is None:
                raise ConfigurationError(
                    "SubdomainTenantResolver needs OMNITENANT_CONFIG['PUBLIC_HOST'] (the "
                    "domain under which tenants are subdomains)."
                )
        super().__init__(base_domain, store)
