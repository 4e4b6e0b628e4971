"""The tenant commands, run as an operator would: call_command and manage.py."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.db import connections

from django_omnitenant.utils import get_tenant_backend
from omnitenant_backends.schema import schema_exists
from omnitenant_context import TenantContext
from tests.support import manage, per_run
from tests.tenantapp.models import Note
from tests.testapp.models import Domain, Tenant

pytestmark = pytest.mark.postgres

PROMPT = "django_omnitenant.management._prompt"


def run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def cleanup(live_db: None) -> Iterator[list[str]]:
    """Tenant ids a test created through a command; dropped afterwards."""
    ids: list[str] = []
    yield ids
    for tenant in Tenant.objects.filter(tenant_id__in=ids):
        get_tenant_backend(tenant).delete(drop_data=True)
        tenant.delete()


def test_createtenant_noinput_creates_row_domains_and_schema(cleanup: list[str]) -> None:
    cleanup.append("cmd_acme")
    output = run(
        "createtenant",
        "--noinput",
        "--tenant-id",
        "cmd_acme",
        "--name",
        "ACME",
        "--domain",
        "ACME.example.test",
        "--domain",
        "www.acme.example.test",
    )
    assert "Created tenant 'cmd_acme'" in output
    tenant = Tenant.objects.get(tenant_id="cmd_acme")
    assert tenant.name == "ACME"
    assert [(d.domain, d.is_primary) for d in tenant.domains.order_by("-is_primary")] == [
        ("acme.example.test", True),
        ("www.acme.example.test", False),
    ]
    assert schema_exists("cmd_acme")
    with TenantContext.use_tenant(tenant):
        assert Note.objects.count() == 0


def test_createtenant_database_tenant_reads_the_password_from_the_environment(
    cleanup: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cleanup.append("cmd_dbpw")
    monkeypatch.setenv("TENANT_DB_SECRET", "s3cr3t-value")
    output = run(
        "createtenant",
        "--noinput",
        "--tenant-id",
        "cmd_dbpw",
        "--isolation-type",
        "database",
        "--db-engine",
        "postgresql",
        "--db-name",
        per_run("omnitenant_t_cmd_dbpw"),
        "--db-host",
        "127.0.0.1",
        "--db-user",
        "postgres",
        "--db-password-env",
        "TENANT_DB_SECRET",
    )
    assert "s3cr3t-value" not in output
    tenant = Tenant.objects.get(tenant_id="cmd_dbpw")
    assert tenant.database_config["PASSWORD"] == "s3cr3t-value"  # noqa: S105 - the test's own value
    for fmt in ("table", "json", "csv"):
        assert "s3cr3t-value" not in run("showtenants", "--format", fmt)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--tenant-id", 'x"; DROP SCHEMA public CASCADE; --'], "lower-case letters"),
        (["--tenant-id", "Bad"], "lower-case letters"),
        (["--tenant-id", "pg_catalog"], "pg_"),
        ([], "Tenant id is required"),
        (["--tenant-id", "cmd_x", "--domain", "not a host"], "not a valid host"),
        (["--tenant-id", "cmd_x", "--domain", "a.test", "--domain", "A.test."], "given twice"),
        (["--tenant-id", "cmd_x", "--schema-name", "public"], "reserved for shared use"),
        (
            [
                "--tenant-id",
                "cmd_x",
                "--isolation-type",
                "database",
                "--db-engine",
                "postgresql",
                "--db-name",
                "postgres",
            ],
            "system database",
        ),
    ],
)
def test_createtenant_refuses_bad_input_and_leaves_nothing(
    live_db: None, arguments: list[str], message: str
) -> None:
    before = set(Tenant.objects.values_list("tenant_id", flat=True))
    with pytest.raises(CommandError, match=message):
        run("createtenant", "--noinput", *arguments)
    assert set(Tenant.objects.values_list("tenant_id", flat=True)) == before
    assert not schema_exists("cmd_x")


def test_createtenant_refuses_a_domain_of_another_tenant(
    tenant_factory: Any, live_db: None
) -> None:
    owner = tenant_factory("cmd_owner")
    Domain.objects.create(tenant=owner, domain="taken.example.test", is_primary=True)
    with pytest.raises(CommandError, match=r"taken\.example\.test \(tenant 'cmd_owner'\)"):
        run(
            "createtenant",
            "--noinput",
            "--tenant-id",
            "cmd_thief",
            "--domain",
            "taken.example.test",
        )
    assert not Tenant.objects.filter(tenant_id="cmd_thief").exists()
    with pytest.raises(CommandError, match="exists already"):
        run("createtenant", "--noinput", "--tenant-id", "cmd_owner")


def test_createtenant_interactive_prompts(
    cleanup: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cleanup.append("cmd_prompted")
    answers = iter(["cmd_prompted", "Prompted Inc", "schema", "prompted.example.test"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    monkeypatch.setattr(f"{PROMPT}.stdin_is_terminal", lambda: True)
    assert "Created tenant 'cmd_prompted'" in run("createtenant")
    assert Domain.objects.get(domain="prompted.example.test").tenant.name == "Prompted Inc"


def test_manage_py_exit_codes_and_messages(cleanup: list[str]) -> None:
    cleanup.append("cmd_sub")
    ok = manage(
        "createtenant", "--noinput", "--tenant-id", "cmd_sub", "--domain", "sub.example.test"
    )
    assert ok.returncode == 0, ok.stderr
    assert "Created tenant 'cmd_sub'" in ok.stdout
    again = manage("createtenant", "--noinput", "--tenant-id", "cmd_sub")
    assert again.returncode == 1
    assert "exists already" in again.stderr
    unknown = manage("migratetenant", "--tenant", "nobody_here")
    assert unknown.returncode == 1
    assert "There is no tenant 'nobody_here'" in unknown.stderr
    listing = manage("showtenants", "--format", "json")
    assert listing.returncode == 0
    assert "cmd_sub" in {row["tenant_id"] for row in json.loads(listing.stdout)}
    helped = manage("migratealltenants", "--help")
    assert helped.returncode == 0
    assert "--jobs" in helped.stdout


@pytest.mark.parametrize(
    "name",
    [
        "createtenant",
        "migratetenant",
        "migratealltenants",
        "showtenants",
        "deletetenant",
        "tenantcommand",
        "createtenantsuperuser",
        "shell",
    ],
)
def test_help_explains_every_option(name: str) -> None:
    command = load_command_class("django_omnitenant", name)
    parser = command.create_parser("manage.py", name)
    assert command.help
    for action in parser._actions:  # argparse keeps no public list of its options
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"


def test_showtenants_formats_filters_and_no_n_plus_one(
    tenant_factory: Any, django_assert_max_num_queries: Any
) -> None:
    for index in range(3):
        tenant = tenant_factory(f"cmd_show_{index}")
        Domain.objects.create(tenant=tenant, domain=f"show-{index}.example.test", is_primary=True)
        Domain.objects.create(tenant=tenant, domain=f"alt-{index}.example.test")
    with django_assert_max_num_queries(2):
        rows = json.loads(run("showtenants", "--format", "json"))
    mine = [row for row in rows if row["tenant_id"].startswith("cmd_show_")]
    assert [row["domains"] for row in mine] == [
        f"show-{i}.example.test alt-{i}.example.test" for i in range(3)
    ]
    assert all(row["storage"] == f"schema {row['tenant_id']}" for row in mine)
    table = run("showtenants")
    assert "tenant_id" in table.splitlines()[0]
    assert "cmd_show_1" in table
    parsed = list(csv.DictReader(io.StringIO(run("showtenants", "--format", "csv"))))
    assert {"cmd_show_0", "cmd_show_2"} <= {row["tenant_id"] for row in parsed}
    assert json.loads(run("showtenants", "--format", "json", "--isolation-type", "database")) == [
        row for row in rows if row["isolation_type"] == "database"
    ]
    assert json.loads(run("showtenants", "--format", "json", "--status", "suspended")) == []


def test_migratetenant_passes_migrate_options(tenant_factory: Any) -> None:
    tenant_factory("cmd_mig")
    plan = run("migratetenant", "--tenant", "cmd_mig", "--plan")
    assert "No planned migration operations." in plan
    run("migratetenant", "--tenant", "cmd_mig", "tenantapp", "zero")
    with TenantContext.use_tenant(Tenant.objects.get(tenant_id="cmd_mig")):
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT to_regclass('tenantapp_note')")
            assert cursor.fetchone() == (None,)
    run("migratetenant", "--tenant", "cmd_mig")
    with TenantContext.use_tenant(Tenant.objects.get(tenant_id="cmd_mig")):
        assert Note.objects.count() == 0
    assert "No planned migration operations." in run(
        "migratetenant", "--tenant", "master", "--plan"
    )
    with pytest.raises(CommandError, match="invalid choice"):
        run("migratetenant", "--tenant", "cmd_mig", "--database", "other")


def test_delete_mark_restore_purge(tenant_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = tenant_factory("cmd_del")
    with TenantContext.use_tenant(tenant):
        Note.objects.create(text="keep me")
    with pytest.raises(CommandError, match="mark it for deletion first"):
        run("deletetenant", "--tenant", "cmd_del", "--purge", "--noinput")
    assert "Marked tenant 'cmd_del'" in run("deletetenant", "--tenant", "cmd_del")
    assert Tenant.objects.get(tenant_id="cmd_del").status == "marked_for_deletion"
    assert schema_exists("cmd_del")
    assert "Restored" in run("deletetenant", "--tenant", "cmd_del", "--restore")
    with TenantContext.use_tenant(tenant):
        assert Note.objects.count() == 1
    run("deletetenant", "--tenant", "cmd_del")
    monkeypatch.setattr("builtins.input", lambda prompt: "wrong")
    monkeypatch.setattr(f"{PROMPT}.stdin_is_terminal", lambda: True)
    with pytest.raises(CommandError, match="did not match"):
        run("deletetenant", "--tenant", "cmd_del", "--purge")
    assert schema_exists("cmd_del")
    assert "Purged" in run("deletetenant", "--tenant", "cmd_del", "--purge", "--noinput")
    assert not schema_exists("cmd_del")
    assert not Tenant.objects.filter(tenant_id="cmd_del").exists()


def test_tenantcommand_runs_in_each_tenant_and_reports_failures(tenant_factory: Any) -> None:
    first, second = tenant_factory("cmd_tc_a"), tenant_factory("cmd_tc_b")
    output = run("tenantcommand", "--tenant", "cmd_tc_a", "--tenant", "cmd_tc_b", "check")
    assert "== cmd_tc_a" in output
    assert "== cmd_tc_b" in output
    with pytest.raises(CommandError, match="Give either"):
        run("tenantcommand", "check")
    with pytest.raises(CommandError, match="no tenant 'ghost'"):
        run("tenantcommand", "--tenant", "ghost", "check")
    out = run(
        "tenantcommand",
        "--tenant",
        "cmd_tc_a",
        "--tenant",
        "cmd_tc_b",
        "showtenants",
        "--format",
        "csv",
    )
    assert "2 of 2 tenants succeeded" in out
    assert first.tenant_id in out
    assert second.tenant_id in out
    # A command failing in one tenant: reported, the others still run, exit non-zero.
    with TenantContext.use_tenant(second), connections["default"].cursor() as cursor:
        cursor.execute("DROP TABLE tenantapp_note CASCADE")
    code = "from tests.tenantapp.models import Note; print(Note.objects.count())"
    with pytest.raises(CommandError, match=r"Failed in 1 tenant\(s\): cmd_tc_b"):
        run(
            "tenantcommand",
            "--tenant",
            "cmd_tc_b",
            "--tenant",
            "cmd_tc_a",
            "shell",
            "--command",
            code,
            "-v",
            "0",
        )


def test_createtenantsuperuser_creates_the_user_in_the_tenant_only(tenant_factory: Any) -> None:
    from django.contrib.auth import get_user_model

    schema_tenant = tenant_factory("cmd_su")
    db_tenant = tenant_factory("cmd_su_db", "database")
    for tenant in (schema_tenant, db_tenant):
        run(
            "createtenantsuperuser",
            "--tenant",
            tenant.tenant_id,
            "--noinput",
            "--username",
            f"admin_{tenant.tenant_id}",
            "--email",
            "a@example.test",
        )
    user_model = get_user_model()
    with TenantContext.use_tenant(schema_tenant):
        assert list(user_model.objects.values_list("username", flat=True)) == ["admin_cmd_su"]
    with TenantContext.use_tenant(db_tenant):
        assert list(user_model.objects.values_list("username", flat=True)) == ["admin_cmd_su_db"]
    assert not user_model.objects.filter(username__startswith="admin_cmd_su").exists()


def test_shell_runs_the_command_inside_the_tenant(
    tenant_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = tenant_factory("cmd_shell")
    with TenantContext.use_tenant(tenant):
        Note.objects.create(text="seen from the shell")
    code = (
        "from tests.tenantapp.models import Note;"
        "print(list(Note.objects.values_list('text', flat=True)))"
    )
    run("shell", "--tenant", "cmd_shell", "--command", code, "-v", "0")
    # The shell prints to the process's stdout, not the command's stream.
    assert capsys.readouterr().out.strip() == "['seen from the shell']"
    with pytest.raises(CommandError, match="no tenant"):
        run("shell", "--tenant", "cmd_nobody", "--command", "print(1)")
