"""The fleet executor leaves every tenant exactly as Django's own migrate does.

Tenants of one fleet are migrated with the fleet executor (the default of
``migratealltenants``) and one more with ``--executor django`` (Django's ``migrate`` per
tenant); their catalogs, ``django_migrations`` rows, ``RunPython`` data and
``tenant_migrated`` signals are compared, forwards and back, for schema tenants on
PostgreSQL and for database tenants on SQLite.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import override_settings

from django_omnitenant.signals import tenant_migrated
from django_omnitenant.utils import get_tenant_backend

RELEASE = "tests.backends.broken_migrations.release.migrations"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(
        "migratealltenants", *args, "--progress", "lines", stdout=out, stderr=io.StringIO()
    )
    return out.getvalue()


def only(*tenants: Any) -> list[str]:
    return [f"--tenant={tenant.tenant_id}" for tenant in tenants]


@contextmanager
def release() -> Iterator[None]:
    """The new release's migrations on disk (create tenants before: they would get them)."""
    with override_settings(MIGRATION_MODULES={"tenantapp": RELEASE}):
        try:
            yield
        finally:
            from omnitenant_backends import cloning_template, migrate_schema_template

            if cloning_template() is not None:
                # The runs migrated the template too: back to the app's own state.
                migrate_schema_template(app_label="tenantapp", migration_name="0001_initial")


@pytest.fixture
def signalled() -> Iterator[list[str]]:
    seen: list[str] = []

    def receiver(sender: Any, tenant: Any, **kwargs: Any) -> None:
        seen.append(tenant.tenant_id)

    tenant_migrated.connect(receiver)
    yield seen
    tenant_migrated.disconnect(receiver)


def query(tenant: Any, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with get_tenant_backend(tenant).migration_scope() as alias:
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params or [])
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def postgres_catalog(tenant: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a migration can change in a schema, with the schema's name masked."""
    schema = tenant.schema_name

    def masked(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return sorted(
            tuple(v.replace(schema, "<schema>") if isinstance(v, str) else v for v in row)
            for row in rows
        )

    return {
        "columns": masked(
            query(
                tenant,
                "SELECT table_name, column_name, ordinal_position, data_type, is_nullable,"
                " column_default, character_maximum_length, is_identity"
                " FROM information_schema.columns WHERE table_schema = %s",
                [schema],
            )
        ),
        "indexes": masked(
            query(
                tenant, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s", [schema]
            )
        ),
        "constraints": masked(
            query(
                tenant,
                "SELECT c.conrelid::regclass::text, c.conname, c.contype,"
                " pg_get_constraintdef(c.oid), c.condeferrable, c.condeferred"
                " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
                " WHERE n.nspname = %s",
                [schema],
            )
        ),
        "views": masked(
            query(
                tenant, "SELECT viewname, definition FROM pg_views WHERE schemaname = %s", [schema]
            )
        ),
        "sequences": masked(
            query(
                tenant,
                "SELECT sequencename, data_type, increment_by FROM pg_sequences"
                " WHERE schemaname = %s",
                [schema],
            )
        ),
    }


def sqlite_catalog(tenant: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "objects": sorted(
            query(tenant, "SELECT type, name, tbl_name, sql FROM sqlite_master"), key=repr
        )
    }


def migration_rows(tenant: Any) -> list[tuple[str, str]]:
    return sorted(query(tenant, "SELECT app, name FROM django_migrations"))


def stock_rows(tenant: Any) -> list[tuple[Any, ...]]:
    return query(tenant, "SELECT sku, quantity, unit FROM tenantapp_stock ORDER BY sku")


def has_table(tenant: Any, name: str) -> bool:
    with get_tenant_backend(tenant).migration_scope() as alias:
        connection = connections[alias]
        with connection.cursor() as cursor:
            return name in connection.introspection.table_names(cursor, include_views=True)


def assert_same(fleet: list[Any], django: Any, catalog: Any) -> None:
    expected = (catalog(django), migration_rows(django))
    for tenant in fleet:
        assert (catalog(tenant), migration_rows(tenant)) == expected, tenant.tenant_id


def compare_forwards_and_back(
    fleet: list[Any], django: Any, catalog: Any, signalled: list[str]
) -> None:
    signalled.clear()  # creating the tenants sent it too
    with release():
        # Forwards: DDL, a field, RunPython with the state's apps, RunSQL in a non-atomic one.
        out = run(*only(*fleet))
        assert "failed             0" in out
        run("--executor", "django", *only(django))
        assert sorted(signalled) == sorted(t.tenant_id for t in [*fleet, django])
        assert ("tenantapp", "0004_view") in migration_rows(django)
        assert stock_rows(django) == [("sku-0", 0, "box"), ("sku-1", 1, "box"), ("sku-2", 2, "box")]
        for tenant in fleet:
            assert stock_rows(tenant) == stock_rows(django)
        assert_same(fleet, django, catalog)

        # A rollback to a named migration: the view and the RunPython rows go, the field stays.
        run("tenantapp", "0003", *only(*fleet))
        run("--executor", "django", "tenantapp", "0003", *only(django))
        assert not has_table(django, "tenantapp_stock_total")
        assert_same(fleet, django, catalog)
        run("tenantapp", "0001", *only(*fleet))
        run("--executor", "django", "tenantapp", "0001", *only(django))
        assert not has_table(django, "tenantapp_stock")
        assert_same(fleet, django, catalog)

        # And forwards again from there: the prepared plans of the first run are not reused.
        run(*only(*fleet))
        run("--executor", "django", *only(django))
        assert_same(fleet, django, catalog)


@pytest.mark.postgres
def test_schema_tenants_match_djangos_migrate(tenant_factory: Any, signalled: list[str]) -> None:
    tenants = [tenant_factory(f"fe_schema_{n}") for n in range(3)]
    with release():
        compare_forwards_and_back(tenants[:2], tenants[2], postgres_catalog, signalled)


def test_database_tenants_match_djangos_migrate(tenant_factory: Any, signalled: list[str]) -> None:
    tenants = [tenant_factory(f"fe_db_{n}", isolation_type="database") for n in range(3)]
    with release():
        compare_forwards_and_back(tenants[:2], tenants[2], sqlite_catalog, signalled)


@pytest.mark.postgres
def test_a_failing_tenant_is_rolled_back_and_the_others_migrate(tenant_factory: Any) -> None:
    tenants = [tenant_factory(f"fe_fail_{n}") for n in range(4)]
    with release():
        broken = tenants[1]
        query(broken, "CREATE TABLE tenantapp_stock (id int)")
        with pytest.raises(CommandError, match="1 of 4 tenants were not migrated: fe_fail_1"):
            run(*only(*tenants))
        for tenant in tenants:
            if tenant is not broken:
                assert ("tenantapp", "0004_view") in migration_rows(tenant)
        # 0002 is atomic: its index and constraints went with it; nothing after it ran.
        assert [r for r in migration_rows(broken) if r[0] == "tenantapp"] == [
            ("tenantapp", "0001_initial")
        ]
        assert query(
            broken,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'stock_quantity_idx'"
            " AND schemaname = current_schema()",
        ) == [(0,)]


@pytest.mark.postgres
def test_plan_groups_tenants_by_state_and_changes_nothing(tenant_factory: Any) -> None:
    tenants = [tenant_factory(f"fe_plan_{n}") for n in range(3)]
    with release():
        run("tenantapp", "0002", *only(tenants[0]))
        out = run("--plan", *only(*tenants))
        assert "1 tenant(s): fe_plan_0\n  tenantapp.0003_fill\n  tenantapp.0004_view\n" in out
        assert "2 tenant(s): fe_plan_1, fe_plan_2\n  tenantapp.0002_stock\n" in out
        assert [r for r in migration_rows(tenants[1]) if r[0] == "tenantapp"] == [
            ("tenantapp", "0001_initial")
        ]
        out = run("--plan", "tenantapp", "0001", *only(tenants[0]))
        assert "  Undo tenantapp.0002_stock" in out


@pytest.mark.postgres
def test_fake_records_without_running(tenant_factory: Any) -> None:
    tenant = tenant_factory("fe_fake")
    with release():
        run("--fake", "tenantapp", "0002", *only(tenant))
        assert ("tenantapp", "0002_stock") in migration_rows(tenant)
        assert not has_table(tenant, "tenantapp_stock")
        # The template was faked forward too: fake it back, as an operator would.
        run("--fake", "tenantapp", "0001", *only(tenant))
        assert not has_table(tenant, "tenantapp_stock")
        assert ("tenantapp", "0002_stock") not in migration_rows(tenant)


@pytest.mark.postgres
def test_unknown_app_or_migration_is_refused_before_any_tenant(tenant_factory: Any) -> None:
    tenant = tenant_factory("fe_unknown")
    with pytest.raises(CommandError, match="App 'nope' does not have migrations"):
        run("nope", *only(tenant))
    with pytest.raises(CommandError, match="matches '0099'"):
        run("tenantapp", "0099", *only(tenant))


@pytest.mark.postgres
def test_migratetenant_runs_the_fleet_executor_forwards_and_back(tenant_factory: Any) -> None:
    tenant, twin = tenant_factory("fe_one"), tenant_factory("fe_twin")
    with release():
        out = io.StringIO()
        call_command("migratetenant", "--tenant", "fe_one", stdout=out)
        assert "Applying tenantapp.0003_fill... OK" in out.getvalue()
        with get_tenant_backend(twin).migration_scope() as alias:
            call_command("migrate", database=alias, verbosity=0)  # Django's own, as reference
        assert_same([tenant], twin, postgres_catalog)
        assert stock_rows(tenant) == stock_rows(twin)
        out = io.StringIO()
        call_command("migratetenant", "--tenant", "fe_one", "tenantapp", "0002", stdout=out)
        assert "Unapplying tenantapp.0003_fill... OK" in out.getvalue()
        with get_tenant_backend(twin).migration_scope() as alias:
            call_command("migrate", "tenantapp", "0002", database=alias, verbosity=0)
        assert_same([tenant], twin, postgres_catalog)
        with pytest.raises(CommandError, match="Cannot find a migration matching '0099'"):
            call_command("migratetenant", "--tenant", "fe_one", "tenantapp", "0099")
        # Back to 0001 so the template and tenants are left as the app has them.
        call_command("migratetenant", "--tenant", "fe_one", "tenantapp", "0001", verbosity=0)
