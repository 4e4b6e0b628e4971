"""A ``tenant_created`` receiver that seeds a new tenant, connected explicitly."""

from __future__ import annotations

from django_omnitenant.signals import tenant_created
from omnitenant_context import Tenant, TenantContext

DISPATCH_UID = "consumer.seed_new_tenant"

#: The ids of the tenants seeded in this process, in order (read by the tests).
seeded: list[str] = []


def seed_new_tenant(sender: type[object], *, tenant: Tenant, **kwargs: object) -> None:
    """Runs inside the new tenant: a failure here rolls the creation back."""
    del sender, kwargs
    with TenantContext.use_tenant(tenant) as entered:
        assert entered is tenant
        seeded.append(TenantContext.require_tenant().tenant_id)


def connect() -> None:
    """Called from the project's ``AppConfig.ready()``."""
    tenant_created.connect(seed_new_tenant, dispatch_uid=DISPATCH_UID)


def disconnect() -> bool:
    return tenant_created.disconnect(dispatch_uid=DISPATCH_UID)
