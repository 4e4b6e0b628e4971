"""The fleet executor's recorder answers ``has_table`` as Django's does, without listing
every table of the database (a scan that grows with the number of tenant schemas)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import CaptureQueriesContext

from django_omnitenant.utils import get_tenant_backend
from omnitenant_backends.fleet_migrate import _TenantRecorder
from tests.django.test_fleet_executor import query

pytestmark = pytest.mark.postgres


def answers(tenant: Any) -> tuple[bool, bool, list[str]]:
    with get_tenant_backend(tenant).migration_scope() as alias:
        connection = connections[alias]
        django = MigrationRecorder(connection).has_table()
        with CaptureQueriesContext(connection) as captured:
            fleet = _TenantRecorder(connection).has_table()
    return django, fleet, [q["sql"] for q in captured.captured_queries]


def test_has_table_agrees_with_djangos_for_a_table_a_view_and_nothing(
    tenant_factory: Any,
) -> None:
    tenant = tenant_factory("frec")
    django, fleet, sql = answers(tenant)
    assert django is fleet is True
    assert len(sql) == 1
    assert "to_regclass" in sql[0]
    assert "pg_table_is_visible" not in sql[0]
    # A view of that name is not the table, for Django nor for the fleet executor.
    query(tenant, "ALTER TABLE django_migrations RENAME TO kept_migrations")
    query(tenant, "CREATE VIEW django_migrations AS SELECT * FROM kept_migrations")
    assert answers(tenant)[:2] == (False, False)
    query(tenant, "DROP VIEW django_migrations")
    assert answers(tenant)[:2] == (False, False)
    query(tenant, "ALTER TABLE kept_migrations RENAME TO django_migrations")
    assert answers(tenant)[:2] == (True, True)
