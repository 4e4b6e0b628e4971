"""Fleet and operator commands under bad input and broken tenants: clear errors, right exit
codes (1 for a failure, 2 for a usage error), no traceback, nothing half-made."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import override_settings

from omnitenant_context import TenantContext
from tests.support import manage
from tests.testapp.models import Tenant

pytestmark = pytest.mark.postgres

UPGRADED = "tests.backends.broken_migrations.upgraded.migrations"


def assert_clean_exit(result: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def unreachable_tenant(live_db: None) -> Iterator[Any]:
    """A PostgreSQL database tenant whose database is gone (dropped by hand)."""
    run = os.environ["OMNITENANT_TEST_RUN"]
    tenant = Tenant.objects.create(
        tenant_id="gone_db",
        name="Gone",
        isolation_type="database",
        database_config={
            "ENGINE": "django.db.backends.postgresql",
            "NAME": f"omnitenant_gone_{run}",
            "HOST": "127.0.0.1",
            "PORT": 5432,
            "USER": connections["default"].settings_dict["USER"],
        },
    )
    yield tenant
    tenant.delete()


def has_marker_table(tenant: Any) -> bool:
    with TenantContext.use_tenant(tenant), connections["default"].cursor() as cursor:
        cursor.execute("SELECT to_regclass('tenantapp_release_marker') IS NOT NULL")
        row = cursor.fetchone()
    return bool(row and row[0])


def test_migratealltenants_migrates_everyone_else_past_an_unreachable_database(
    tenant_factory: Any, unreachable_tenant: Any
) -> None:
    healthy = [tenant_factory("reach_a"), tenant_factory("reach_b")]
    out, err = io.StringIO(), io.StringIO()
    try:
        with (
            override_settings(MIGRATION_MODULES={"tenantapp": UPGRADED}),
            pytest.raises(CommandError, match="1 of 3 tenants were not migrated: gone_db"),
        ):
            call_command(
                "migratealltenants",
                *("--tenant", "reach_a", "--tenant", "gone_db", "--tenant", "reach_b"),
                *("--progress", "lines"),
                stdout=out,
                stderr=err,
            )
        assert all(has_marker_table(tenant) for tenant in healthy)
    finally:
        with override_settings(MIGRATION_MODULES={"tenantapp": UPGRADED}):
            for tenant in healthy:
                call_command(
                    "migratetenant", "--tenant", tenant.tenant_id, "tenantapp", "0001", verbosity=0
                )
            from omnitenant_backends import migrate_schema_template

            migrate_schema_template(app_label="tenantapp", migration_name="0001_initial")
    assert "reach_a: migrated" in out.getvalue()
    assert "failed" in out.getvalue()
    assert "gone_db: failed: OperationalError" in err.getvalue()


def test_migratealltenants_with_an_unreachable_database_exits_1_with_a_summary(
    tenant_factory: Any, unreachable_tenant: Any
) -> None:
    tenant_factory("reach_c")
    # Only these two: the suite's other tenants are not this test's business.
    result = manage(
        "migratealltenants", "--tenant", "reach_c", "--tenant", "gone_db", "--progress", "lines"
    )
    assert_clean_exit(result, 1, "1 of 2 tenants were not migrated: gone_db")
    assert "gone_db: failed" in result.stderr
    assert "up to date" in result.stdout  # the summary table


@pytest.mark.parametrize("jobs", ["0", "-3", "many"])
def test_migratealltenants_jobs_below_one_is_a_usage_error(live_db: None, jobs: str) -> None:
    result = manage("migratealltenants", "--jobs", jobs)
    assert_clean_exit(result, 2, "--jobs")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("migratealltenants", jobs=0)


def test_migratetenant_refuses_any_database_with_a_tenant(tenant_factory: Any) -> None:
    tenant_factory("mig_db")
    result = manage("migratetenant", "--tenant", "mig_db", "--database", "default")
    assert_clean_exit(result, 2, "--database cannot be combined with --tenant")
    assert manage("migratetenant", "--tenant", "mig_db").returncode == 0


def test_deletetenant_purge_without_a_terminal_asks_for_noinput(tenant_factory: Any) -> None:
    tenant = tenant_factory("no_tty")
    assert manage("deletetenant", "--tenant", "no_tty").returncode == 0
    result = manage("deletetenant", "--tenant", "no_tty", "--purge", stdin="no_tty\n")
    assert_clean_exit(result, 2, "--noinput")
    assert Tenant.objects.filter(pk=tenant.pk).exists()


def test_createtenant_without_a_terminal_asks_for_noinput(live_db: None) -> None:
    result = manage("createtenant", "--tenant-id", "no_tty_new")
    assert_clean_exit(result, 2, "--noinput")
    assert not Tenant.objects.filter(tenant_id="no_tty_new").exists()
    # Every value given: nothing to ask, no terminal needed.
    done = manage(
        "createtenant",
        "--tenant-id",
        "no_tty_full",
        "--name",
        "Full",
        "--isolation-type",
        "schema",
        "--domain",
        "full.example.test",
        "--no-migrate",
    )
    try:
        assert done.returncode == 0, done.stderr
    finally:
        manage("deletetenant", "--tenant", "no_tty_full")
        manage("deletetenant", "--tenant", "no_tty_full", "--purge", "--noinput")
    assert not Tenant.objects.filter(tenant_id="no_tty_full").exists()


@pytest.mark.parametrize(
    ("options", "refused"),
    [
        (["--db-name", "elsewhere"], "--db-name"),
        (["--db-engine", "postgresql", "--db-host", "db2"], "--db-engine, --db-host"),
        (["--db-password-env", "HOME"], "--db-password-env"),
    ],
)
def test_createtenant_refuses_database_options_on_a_schema_tenant(
    live_db: None, options: list[str], refused: str
) -> None:
    result = manage("createtenant", "--noinput", "--tenant-id", "schema_opts", *options)
    assert_clean_exit(result, 2, f"{refused} only apply to database tenants")
    assert not Tenant.objects.filter(tenant_id="schema_opts").exists()


def test_createtenant_refuses_another_tenants_schema(tenant_factory: Any) -> None:
    tenant_factory("schema_owner")
    result = manage(
        "createtenant", "--noinput", "--tenant-id", "schema_thief", "--schema-name", "schema_owner"
    )
    assert_clean_exit(result, 1, "Another tenant uses this schema name already")
    assert not Tenant.objects.filter(tenant_id="schema_thief").exists()
