"""A Django test client whose requests arrive at a tenant's host."""

from __future__ import annotations

from typing import Any

from django.test import Client

from django_omnitenant.testing._registry import TenantSetupError
from django_omnitenant.utils import get_domain_model
from omnitenant_context import Tenant, TenantContext

__all__ = ["TenantClient", "primary_domain"]


def primary_domain(tenant: Tenant) -> str:
    """The tenant's primary domain, read from the master database."""
    with TenantContext.use_master_db():
        domain = (
            get_domain_model()
            ._default_manager.filter(tenant__tenant_id=tenant.tenant_id, is_primary=True)
            .values_list("domain", flat=True)
            .first()
        )
    if domain is None:
        raise TenantSetupError(
            f"Tenant {tenant.tenant_id!r} has no primary domain; create one with "
            "Domain.objects.create(tenant=..., domain=..., is_primary=True) or pass domain=."
        )
    return str(domain)


class TenantClient(Client):
    """``django.test.Client`` that sends the tenant's primary domain as ``Host``.

    Requests go through the whole middleware stack, so ``TenantMiddleware`` resolves the
    tenant from the host exactly as in production; nothing is set on the request by hand.
    The host must be allowed by ``ALLOWED_HOSTS`` (``".testserver"`` covers the default
    test domains). ``domain`` picks another of the tenant's domains.
    """

    def __init__(self, tenant: Tenant, *, domain: str | None = None, **defaults: Any) -> None:
        self.tenant = tenant
        self.domain = domain or primary_domain(tenant)
        defaults.setdefault("HTTP_HOST", self.domain)
        super().__init__(**defaults)
