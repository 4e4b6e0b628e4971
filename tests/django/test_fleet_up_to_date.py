"""migratealltenants at fleet scale: schemas read in batches, tenants in pages, and the
up-to-date check still fails closed (a missing row or table means: migrate)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from psycopg import sql

from omnitenant_backends import fleet
from omnitenant_context import TenantContext

pytestmark = pytest.mark.postgres


@pytest.fixture
def ten_tenants(tenant_factory: Any) -> list[Any]:
    return [tenant_factory(f"scale_{index}") for index in range(10)]


def execute(statement: sql.Composable | str, params: list[Any] | None = None) -> list[Any]:
    with connections["default"].cursor() as cursor:
        cursor.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []


def applied_in(schema: str) -> frozenset[tuple[str, str]]:
    rows = execute(
        sql.SQL("SELECT app, name FROM {}").format(sql.Identifier(schema, "django_migrations"))
    )
    return frozenset((app, name) for app, name in rows)


def test_batches_read_every_schema_and_share_identical_sets(
    ten_tenants: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas = [tenant.schema_name for tenant in ten_tenants]
    aside = schemas[4]
    execute(
        sql.SQL("ALTER TABLE {} RENAME TO aside").format(sql.Identifier(aside, "django_migrations"))
    )
    statements: list[str] = []

    def count(execute: Any, sql_text: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql_text)
        return execute(sql_text, params, many, context)

    # 9 schemas with the table, 4 per statement: batches of 4, 4 and 1.
    monkeypatch.setattr(fleet, "SCHEMAS_PER_STATEMENT", 4)
    with connections["default"].execute_wrapper(count):
        read = fleet.applied_migrations_by_schema(schemas=schemas)
    assert len(statements) == 1 + 3
    assert sorted(read) == sorted(schema for schema in schemas if schema != aside)
    for schema, applied in read.items():
        assert applied == applied_in(schema)
    # Every tenant was made from the same template: one set, held once.
    assert len({id(applied) for applied in read.values()}) == 1


def test_a_missing_row_or_table_is_migrated_across_chunks_and_pages(
    ten_tenants: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_omnitenant.management import _fleet_tenants
    from django_omnitenant.management.commands import migratealltenants

    missing_row, missing_table = ten_tenants[2], ten_tenants[7]
    execute(
        sql.SQL("DELETE FROM {} WHERE app = 'tenantapp' AND name = '0001_initial'").format(
            sql.Identifier(missing_row.schema_name, "django_migrations")
        )
    )
    execute(
        sql.SQL("ALTER TABLE {} RENAME TO aside").format(
            sql.Identifier(missing_table.schema_name, "django_migrations")
        )
    )
    # Small chunks and pages, so that both boundaries fall inside these ten tenants.
    monkeypatch.setattr(migratealltenants, "TENANTS_PER_READ", 4)
    monkeypatch.setattr(_fleet_tenants, "ROWS_PER_QUERY", 3)
    monkeypatch.setattr(fleet, "SCHEMAS_PER_STATEMENT", 2)
    out = io.StringIO()
    fleet_args = [f"--tenant={tenant.tenant_id}" for tenant in ten_tenants]
    # --fake: record the missing migrations without running them (the tables exist).
    call_command("migratealltenants", *fleet_args, "--fake", "--progress", "lines", stdout=out)
    migrated = sorted(
        line.split(":")[0] for line in out.getvalue().splitlines() if ": migrated" in line
    )
    assert migrated == sorted([missing_row.tenant_id, missing_table.tenant_id])
    assert "up to date         8" in out.getvalue()
    # The two were brought back to the state of the others.
    expected = applied_in(ten_tenants[0].schema_name)
    assert ("tenantapp", "0001_initial") in expected
    assert applied_in(missing_row.schema_name) >= expected
    assert applied_in(missing_table.schema_name) >= expected
    execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(missing_table.schema_name, "aside")))


def test_excluded_and_paged_selection_keeps_every_tenant(
    ten_tenants: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_omnitenant.management import _fleet_tenants

    monkeypatch.setattr(_fleet_tenants, "ROWS_PER_QUERY", 3)
    ids = [tenant.tenant_id for tenant in ten_tenants]
    selected = _fleet_tenants.select_fleet(ids, [ids[5]])
    assert [tenant.tenant_id for tenant in selected] == sorted(set(ids) - {ids[5]})
    first = selected[0]
    assert first.schema_name == ten_tenants[0].schema_name
    with TenantContext.use_master_db():
        assert first.model().pk == ten_tenants[0].pk


def test_the_summary_keeps_counts_problems_and_the_five_slowest_only() -> None:
    from django_omnitenant.management.commands.migratealltenants import (
        FAILED,
        MIGRATED,
        UP_TO_DATE,
        Outcome,
        _Tally,
    )

    tally = _Tally()
    for index in range(20):
        tally.add(Outcome(f"m{index:02d}", MIGRATED, float(index % 7)))
    tally.add(Outcome("slow_but_skipped", UP_TO_DATE, 99.0))
    tally.add(Outcome("broken", FAILED, 3.5, "boom"))
    assert tally.counts[MIGRATED] == 20
    assert tally.counts[UP_TO_DATE] == 1
    assert [o.tenant_id for o in tally.problems] == ["broken"]
    # 6.0 twice (m06, m13), 5.0 three times (m05, m12, m19): the first seen go first.
    assert [o.tenant_id for o in tally.slowest()] == ["m06", "m13", "m05", "m12", "m19"]
