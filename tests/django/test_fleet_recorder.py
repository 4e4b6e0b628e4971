"""The fleet executor's recorder answers ``has_table`` as Django's does, without listing
every table of the database (a scan that grows with the number of tenant schemas)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

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


def test_applied_keys_and_records_agree_with_djangos_recorder(tenant_factory: Any) -> None:
    tenant = tenant_factory("frec_rows")
    with get_tenant_backend(tenant).migration_scope() as alias:
        connection = connections[alias]
        django = MigrationRecorder(connection)
        fleet = _TenantRecorder(connection)
        assert fleet.applied_keys() == frozenset(django.applied_migrations())
        before = timezone.now()
        fleet.record_applied("frec", "0001_fleet")
        after = timezone.now()
        row = django.migration_qs.get(app="frec", name="0001_fleet")
        # The same kind of timestamp the ORM would write (aware with USE_TZ), of now.
        assert before <= row.applied <= after
        assert ("frec", "0001_fleet") in _TenantRecorder(connection).applied_keys()
        fleet.record_unapplied("frec", "0001_fleet")
        assert ("frec", "0001_fleet") not in frozenset(django.applied_migrations())
    # Without the table: nothing applied, as Django says, and no error.
    query(tenant, "DROP TABLE django_migrations")
    with get_tenant_backend(tenant).migration_scope() as alias:
        connection = connections[alias]
        assert _TenantRecorder(connection).applied_keys() == frozenset()
        assert MigrationRecorder(connection).applied_migrations() == {}
