"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from django_omnitenant.utils import get_tenant_backend
from omnitenant_context import TenantContext
from tests.tenantapp.models import Note
from tests.testapp.models import Domain, Tenant


@pytest.fixture(scope="module")
def tenant_pair(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[Any, Any]]:
    """Two schema tenants, ``pair_a`` and ``pair_b`` (hosts ``pair-a.example.test``, ...).

    Each holds one note, ``note of pair_X``, with the same primary key in both: the
    tenant-local ids that must never be mistaken for one another.
    """
    created: list[Any] = []
    with django_db_blocker.unblock():
        try:
            for name in ("pair_a", "pair_b"):
                tenant = Tenant.objects.create(tenant_id=name, name=name.upper())
                created.append(tenant)
                get_tenant_backend(tenant).create(run_migrations=True)
                Domain.objects.create(
                    tenant=tenant, domain=f"{name.replace('_', '-')}.example.test", is_primary=True
                )
                with TenantContext.use_tenant(tenant):
                    Note.objects.create(text=f"note of {name}")
            yield created[0], created[1]
        finally:
            for tenant in created:
                get_tenant_backend(tenant).delete(drop_data=True)
                tenant.delete()
