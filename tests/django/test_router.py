"""The router: which database each scope goes to, and where each app migrates."""

from __future__ import annotations

import pytest
from django.db import connections

from django_omnitenant.routers import TenantRouter
from omnitenant_context import IsolationType, NoTenantActive, TenantContext
from tests.support import plain_tenant
from tests.tenantapp.models import Note
from tests.testapp.models import Tenant

router = TenantRouter()
SCHEMA_TENANT = plain_tenant("acme")


def test_master_models_always_go_to_the_master() -> None:
    assert router.db_for_read(Tenant) == "default"
    with TenantContext.use_master_db():
        assert router.db_for_write(Tenant) == "default"
    # Inside a schema tenant (whose path is its schema alone): the master's connection
    # through the master route, which gives its statements the shared schema's path.
    with TenantContext.use_tenant(SCHEMA_TENANT):
        assert router.db_for_write(Tenant) == "default__omnitenant_master"
        assert connections["default__omnitenant_master"].alias == "default"
    with TenantContext.use_schema("reporting"):
        assert router.db_for_read(Tenant) == "default__omnitenant_master"


def test_tenant_models_fail_closed_without_a_tenant() -> None:
    with pytest.raises(NoTenantActive, match=r"tenantapp\.Note is tenant-scoped"):
        router.db_for_read(Note)
    with TenantContext.use_master_db(), pytest.raises(NoTenantActive):
        router.db_for_write(Note)
    with TenantContext.use_tenant(SCHEMA_TENANT):
        assert router.db_for_read(Note) == "default"
    with TenantContext.use_schema("reporting"):
        assert router.db_for_read(Note) == "default"


@pytest.mark.parametrize(
    ("app_label", "public", "tenant_schema"),
    [("testapp", True, False), ("tenantapp", False, True), ("auth", True, True)],
)
def test_allow_migrate_follows_the_scope(app_label: str, public: bool, tenant_schema: bool) -> None:
    assert router.allow_migrate("default", app_label) is public
    with TenantContext.use_tenant(SCHEMA_TENANT):
        assert router.allow_migrate("default", app_label) is tenant_schema
    with TenantContext.use_schema("omnitenant_template"):
        assert router.allow_migrate("default", app_label) is tenant_schema
    with TenantContext.use_schema("public"):
        assert router.allow_migrate("default", app_label) is public


def test_unknown_aliases_are_left_to_other_routers() -> None:
    assert router.allow_migrate("analytics", "tenantapp") is None


def test_database_tenant_context_does_not_migrate_tenant_apps_into_public() -> None:
    database_tenant = plain_tenant("globex", IsolationType.DATABASE)
    with TenantContext.use_tenant(database_tenant):
        assert router.allow_migrate("default", "tenantapp") is False
        assert router.allow_migrate("default", "testapp") is True
