"""The isolation promise: two schema tenants and two database tenants (PostgreSQL and
SQLite), created through the API reference's programmatic path, never see each other's
rows, nor the master's; master tables stay readable inside every tenant."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import connections

from django_omnitenant.tenant_context import TenantContext
from django_omnitenant.utils import get_domain_model, get_tenant_backend, get_tenant_model
from omnitenant_context import NoTenantActive
from tests.tenantapp.models import Note

pytestmark = pytest.mark.postgres


@pytest.fixture
def four_tenants(tenant_factory: Any) -> dict[str, Any]:
    master = settings.DATABASES["default"]
    pg_config = {
        "ENGINE": "django.db.backends.postgresql",
        # Named after this run's test database: concurrent runs never share it.
        "NAME": f"{connections['default'].settings_dict['NAME']}_iso_pg",
        "HOST": master["HOST"],
        "USER": master["USER"],
    }
    tenants = {
        "schema_a": tenant_factory("iso_schema_a"),
        "schema_b": tenant_factory("iso_schema_b"),
        "db_pg": tenant_factory("iso_db_pg", "database", database_config=pg_config),
        "db_lite": tenant_factory("iso_db_lite", "database"),
    }
    domain_model = get_domain_model()
    for key, tenant in tenants.items():
        domain_model.objects.create(
            tenant=tenant, domain=f"{key.replace('_', '-')}.example.test", is_primary=True
        )
    return tenants


def test_rows_stay_in_their_tenant(four_tenants: dict[str, Any]) -> None:
    for key, tenant in four_tenants.items():
        with TenantContext.use_tenant(tenant):
            Note.objects.create(text=f"note of {key}")
            Note.objects.create(text=f"second note of {key}")
    for key, tenant in four_tenants.items():
        with TenantContext.use_tenant(tenant):
            texts = sorted(Note.objects.values_list("text", flat=True))
        assert texts == [f"note of {key}", f"second note of {key}"]


def test_master_sees_no_tenant_rows(four_tenants: dict[str, Any]) -> None:
    with TenantContext.use_tenant(four_tenants["schema_a"]):
        Note.objects.create(text="secret")
    # The master has no tenant tables at all: a query fails closed instead of reading.
    with pytest.raises(NoTenantActive):
        Note.objects.count()
    with TenantContext.use_master_db(), pytest.raises(NoTenantActive):
        Note.objects.count()
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_name = 'tenantapp_note'"
        )
        assert cursor.fetchone() == (0,)


def test_master_tables_are_readable_inside_every_tenant(four_tenants: dict[str, Any]) -> None:
    tenant_model = get_tenant_model()
    domain_model = get_domain_model()
    for key, tenant in four_tenants.items():
        with TenantContext.use_tenant(tenant):
            assert tenant_model.objects.filter(tenant_id__startswith="iso_").count() == 4
            primary = domain_model.objects.get(tenant__tenant_id=tenant.tenant_id)
            assert primary.domain == f"{key.replace('_', '-')}.example.test"


def test_master_and_schema_scopes_nest_with_tenants_in_any_order(
    four_tenants: dict[str, Any],
) -> None:
    schema_a, schema_b = four_tenants["schema_a"], four_tenants["schema_b"]
    db_pg, db_lite = four_tenants["db_pg"], four_tenants["db_lite"]
    for tenant in four_tenants.values():
        with TenantContext.use_tenant(tenant):
            Note.objects.create(text=tenant.tenant_id)

    def texts() -> list[str]:
        return list(Note.objects.values_list("text", flat=True))

    with TenantContext.use_tenant(db_lite):
        assert texts() == ["iso_db_lite"]
        with TenantContext.use_master_db():
            assert get_tenant_model().objects.filter(tenant_id="iso_db_lite").exists()
            with TenantContext.use_schema("iso_schema_b"):
                assert texts() == ["iso_schema_b"]
                with TenantContext.use_tenant(db_pg):
                    assert texts() == ["iso_db_pg"]
                assert texts() == ["iso_schema_b"]
            with pytest.raises(NoTenantActive):
                texts()
        assert texts() == ["iso_db_lite"]
        with TenantContext.use_tenant(schema_a):
            assert texts() == ["iso_schema_a"]
            with TenantContext.use_schema("iso_schema_b"):
                assert texts() == ["iso_schema_b"]
            assert texts() == ["iso_schema_a"]
        assert texts() == ["iso_db_lite"]
    with TenantContext.use_tenant(schema_b):
        assert texts() == ["iso_schema_b"]


def test_deleting_a_tenant_keeps_data_until_asked(four_tenants: dict[str, Any]) -> None:
    tenant = four_tenants["schema_b"]
    with TenantContext.use_tenant(tenant):
        Note.objects.create(text="kept")
    get_tenant_backend(tenant).delete()
    with TenantContext.use_tenant(tenant):
        assert Note.objects.count() == 1
