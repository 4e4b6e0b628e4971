"""Each tenant's Wagtail ``Site`` answers on the tenant's primary domain."""

from __future__ import annotations

from typing import Any

from django_omnitenant.utils import get_domain_model
from omnitenant_context import TenantContext


def point_site_at_tenant(sender: Any, tenant: Any, **kwargs: Any) -> None:
    """Give the tenant's default Wagtail site the tenant's primary domain and name.

    Runs inside the creation's transaction: a failure here rolls the tenant back.
    """
    from wagtail.models import Site

    with TenantContext.use_master_db():
        primary = (
            get_domain_model()
            .objects.filter(tenant=tenant, is_primary=True)
            .values_list("domain", flat=True)
            .first()
        )
    if primary is None:
        return
    with TenantContext.use_tenant(tenant):
        Site.objects.filter(is_default_site=True).update(
            hostname=primary, port=80, site_name=str(getattr(tenant, "name", tenant.tenant_id))
        )
