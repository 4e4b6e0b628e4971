"""migratealltenants: skip the up to date, finish past a failure, lock, summarise."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from typing import Any

import psycopg
import psycopg.sql
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import override_settings

from omnitenant_context import TenantContext

pytestmark = pytest.mark.postgres

UPGRADED = "tests.backends.broken_migrations.upgraded.migrations"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("migratealltenants", *args, "--progress", "lines", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def ten_tenants(tenant_factory: Any) -> list[Any]:
    return [tenant_factory(f"fleet_{index}") for index in range(10)]


def has_marker_table(tenant: Any) -> bool:
    with TenantContext.use_tenant(tenant), connections["default"].cursor() as cursor:
        cursor.execute("SELECT to_regclass('tenantapp_release_marker') IS NOT NULL")
        row = cursor.fetchone()
    return bool(row and row[0])


@pytest.fixture
def upgraded_release(ten_tenants: list[Any]) -> Iterator[None]:
    """A new migration appears; afterwards every schema, template included, goes back."""
    with override_settings(MIGRATION_MODULES={"tenantapp": UPGRADED}):
        yield
        for tenant in ten_tenants:
            if has_marker_table(tenant):
                call_command(
                    "migratetenant", "--tenant", tenant.tenant_id, "tenantapp", "0001", verbosity=0
                )
        from omnitenant_backends import migrate_schema_template

        migrate_schema_template(app_label="tenantapp", migration_name="0001_initial")


def test_all_up_to_date_are_skipped_without_a_migrate_run(ten_tenants: list[Any]) -> None:
    out, err = run()
    assert err == ""
    assert "migrated (" not in out
    up_to_date = re.search(r"^up to date +(\d+)$", out, re.MULTILINE)
    assert up_to_date is not None
    assert int(up_to_date.group(1)) >= 10
    assert "failed             0" in out


def test_one_failing_tenant_of_ten_does_not_stop_the_others(
    ten_tenants: list[Any], upgraded_release: None
) -> None:
    broken = ten_tenants[3]
    with TenantContext.use_tenant(broken), connections["default"].cursor() as cursor:
        # The new migration's table exists already in this tenant: its migrate fails.
        cursor.execute("CREATE TABLE tenantapp_release_marker (id int)")
    # Only this test's tenants: others in the session (the test helpers' SQLite tenants)
    # cannot run this PostgreSQL-only release and would fail too.
    fleet = [f"--tenant={tenant.tenant_id}" for tenant in ten_tenants]
    with pytest.raises(CommandError, match=r"1 of 10 tenants were not migrated: fleet_3"):
        run("--jobs", "2", *fleet)
    for tenant in ten_tenants:
        if tenant is broken:
            continue
        assert has_marker_table(tenant), tenant.tenant_id
        with TenantContext.use_tenant(tenant), connections["default"].cursor() as cursor:
            cursor.execute("SELECT release FROM tenantapp_release_marker")
            assert cursor.fetchall() == [("2.0",)]
    with TenantContext.use_tenant(broken), connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM django_migrations WHERE app = 'tenantapp' AND name LIKE '0002%'"
        )
        assert cursor.fetchone() == (0,)
        cursor.execute("DROP TABLE tenantapp_release_marker")
    # Once the cause is gone, a second run migrates only the tenant that failed.
    out, _ = run("--jobs", "2", *fleet)
    assert "fleet_3: migrated" in out
    assert sum(1 for line in out.splitlines() if ": migrated" in line) == 1


def test_selection_and_unknown_ids(ten_tenants: list[Any]) -> None:
    out, _ = run("--tenant", "fleet_1", "--tenant", "fleet_2", "--no-skip")
    assert sorted(line.split(":")[0] for line in out.splitlines() if ": migrated" in line) == [
        "fleet_1",
        "fleet_2",
    ]
    out, _ = run("--exclude", "fleet_1", "--no-skip")
    assert "fleet_1: migrated" not in out
    assert "fleet_2: migrated" in out
    with pytest.raises(CommandError, match="no tenant 'fleet_99'"):
        run("--tenant", "fleet_99")
    with pytest.raises(CommandError, match="--jobs"):
        run("--jobs", "0")


def test_a_tenant_being_migrated_elsewhere_is_reported_locked(ten_tenants: list[Any]) -> None:
    key = int.from_bytes(
        hashlib.blake2b(b"omnitenant-migrate:fleet_5", digest_size=8).digest(), "big", signed=True
    )
    master = settings.DATABASES["default"]
    with psycopg.connect(
        host=str(master["HOST"]),
        user=str(master["USER"]),
        dbname=connections["default"].settings_dict["NAME"],
        autocommit=True,
    ) as other_run:
        other_run.execute("SELECT pg_advisory_lock(%s)", [key])
        with pytest.raises(CommandError, match="fleet_5"):
            run("--tenant", "fleet_5", "--tenant", "fleet_6", "--no-skip")
    out, _ = run("--tenant", "fleet_5", "--no-skip")
    assert "fleet_5: migrated" in out


# -- the template never blocks the fleet ----------------------------------------------

CONCURRENT = "tests.backends.broken_migrations.concurrent.migrations"


def template_schema() -> str:
    from omnitenant_backends._clone import schema_template_name

    template = schema_template_name()
    assert template, "the test settings keep the default SCHEMA_TEMPLATE"
    return template


def template_has(table_or_index: str) -> bool | None:
    """Whether the template has the relation; ``None`` when there is no template."""
    template = template_schema()
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT to_regnamespace(%s) IS NOT NULL", [template])
        row = cursor.fetchone()
        if not (row and row[0]):
            return None
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{template}.{table_or_index}"])
        row = cursor.fetchone()
    return bool(row and row[0])


@pytest.fixture
def two_tenants(tenant_factory: Any) -> list[Any]:
    return [tenant_factory(f"fleet_tpl_{index}") for index in range(2)]


def test_a_template_that_cannot_be_migrated_is_rebuilt_and_the_tenants_migrated(
    two_tenants: list[Any],
) -> None:
    from omnitenant_backends import migrate_schema_template

    migrate_schema_template()
    with connections["default"].cursor() as cursor:
        # Something in the template's way: the new migration's table exists already.
        cursor.execute(
            psycopg.sql.SQL("CREATE TABLE {} (id int)").format(
                psycopg.sql.Identifier(template_schema(), "tenantapp_release_marker")
            )
        )
    fleet = [f"--tenant={tenant.tenant_id}" for tenant in two_tenants]
    try:
        with override_settings(MIGRATION_MODULES={"tenantapp": UPGRADED}):
            out, err = run(*fleet)
            assert "could not be migrated" in out
            assert "rebuilt from scratch" in out
            assert err == ""
            assert all(has_marker_table(tenant) for tenant in two_tenants)
            assert template_has("tenantapp_release_marker")
            with connections["default"].cursor() as cursor:
                cursor.execute(
                    psycopg.sql.SQL("SELECT release FROM {}").format(
                        psycopg.sql.Identifier(template_schema(), "tenantapp_release_marker")
                    )
                )
                assert cursor.fetchall() == [("2.0",)]  # made by the migration, not by hand
    finally:
        with override_settings(MIGRATION_MODULES={"tenantapp": UPGRADED}):
            for tenant in two_tenants:
                call_command(
                    "migratetenant", "--tenant", tenant.tenant_id, "tenantapp", "0001", verbosity=0
                )
            migrate_schema_template(app_label="tenantapp", migration_name="0001_initial")


def test_a_template_that_cannot_be_rebuilt_is_set_aside_and_the_tenants_migrated(
    two_tenants: list[Any],
) -> None:
    from omnitenant_backends import migrate_schema_template

    migrate_schema_template()
    fleet = [f"--tenant={tenant.tenant_id}" for tenant in two_tenants]
    try:
        with override_settings(MIGRATION_MODULES={"tenantapp": CONCURRENT}):
            with pytest.raises(CommandError, match="Every tenant was migrated, but the schema"):
                run(*fleet)
            for tenant in two_tenants:
                with TenantContext.use_tenant(tenant), connections["default"].cursor() as cur:
                    cur.execute("SELECT to_regclass('note_text_upper_idx') IS NOT NULL")
                    assert cur.fetchone() == (True,), tenant.tenant_id
            assert template_has("tenantapp_note") is None  # dropped, not left half-made
    finally:
        with override_settings(MIGRATION_MODULES={"tenantapp": CONCURRENT}):
            for tenant in two_tenants:
                call_command(
                    "migratetenant", "--tenant", tenant.tenant_id, "tenantapp", "0001", verbosity=0
                )
        migrate_schema_template()
