"""The provisioning module and the lifecycle states, on real PostgreSQL (and SQLite files).

Creation all or nothing also when the master connection dies, two creations racing for
one id, every lifecycle state as a request, a tenant command and code see it, and the
database refusing writes in maintenance.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connections
from django.test import Client, override_settings

from django_omnitenant import lifecycle, provisioning
from django_omnitenant.constants import TenantStatus
from django_omnitenant.signals import tenant_created, tenant_migrated, tenant_state_changed
from django_omnitenant.utils import get_tenant_backend
from omnitenant_backends import maintenance_writes
from omnitenant_backends.schema import schema_exists
from omnitenant_context import ProvisioningError, TenantContext
from tests.support import ROOT, manage
from tests.tenantapp.models import Note
from tests.testapp.models import Tenant

pytestmark = pytest.mark.postgres


def master_settings() -> dict[str, Any]:
    return dict(connections["default"].settings_dict)


def pg_config(suffix: str) -> dict[str, Any]:
    master = master_settings()
    return {
        "ENGINE": "django.db.backends.postgresql",
        # Named after this run's test database: concurrent runs never share it.
        "NAME": f"{master['NAME']}_{suffix}",
        "HOST": master["HOST"],
        "USER": master["USER"],
    }


def admin_connection() -> psycopg.Connection[Any]:
    master = master_settings()
    return psycopg.connect(
        host=master["HOST"], user=master["USER"], dbname="postgres", autocommit=True
    )


def database_exists(name: str) -> bool:
    with admin_connection() as connection:
        row = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None


def config_with(**changes: Any) -> dict[str, Any]:
    return {**settings.OMNITENANT_CONFIG, **changes}


@pytest.fixture
def purge_afterwards(live_db: None) -> Iterator[list[str]]:
    ids: list[str] = []
    yield ids
    for tenant in Tenant.objects.filter(tenant_id__in=ids):
        provisioning.purge_tenant(tenant, require_mark=False)


# -- all or nothing when the master connection dies -------------------------------------


@pytest.mark.parametrize("failure", ["pg_terminate_backend", "idle_in_transaction_timeout"])
def test_a_database_tenant_is_removed_when_the_master_connection_dies(
    failure: str, purge_afterwards: list[str]
) -> None:
    purge_afterwards.append("prov_dead")
    config = pg_config("prov_dead")
    master = connections["default"]

    def master_dies(sender: Any, tenant: Any, **kwargs: Any) -> None:
        # The tenant's database exists and is migrated; the master transaction that
        # holds the row is still open.
        assert database_exists(config["NAME"])
        if failure == "pg_terminate_backend":
            pid = master.connection.info.backend_pid
            with admin_connection() as other:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
        else:
            time.sleep(1.0)  # the master sits idle in its transaction meanwhile

    if failure == "idle_in_transaction_timeout":
        with master.cursor() as cursor:
            cursor.execute("SET idle_in_transaction_session_timeout = '300ms'")
    tenant_created.connect(master_dies)
    try:
        with pytest.raises(CommandError) as raised:
            call_command(
                "createtenant",
                "--tenant-id=prov_dead",
                "--isolation-type=database",
                "--db-engine=postgresql",
                f"--db-name={config['NAME']}",
                f"--db-host={config['HOST']}",
                f"--db-user={config['USER']}",
                "--noinput",
                stdout=io.StringIO(),
            )
    finally:
        tenant_created.disconnect(master_dies)
        master.close()  # a fresh session: no timeout left set
    assert "Creating tenant 'prov_dead' failed and was rolled back" in str(raised.value)
    assert not Tenant.objects.filter(tenant_id="prov_dead").exists()
    assert not database_exists(config["NAME"])


def test_a_failing_receiver_leaves_no_sqlite_file_row_or_domain(
    purge_afterwards: list[str],
) -> None:
    purge_afterwards.append("prov_lite")

    def refuse(sender: Any, tenant: Any, **kwargs: Any) -> None:
        raise RuntimeError("seeding failed")

    tenant_migrated.connect(refuse)  # after the storage exists: sent by provisioning
    try:
        with pytest.raises(RuntimeError, match="seeding failed"):
            provisioning.create_tenant(
                "prov_lite", isolation_type="database", domains=["prov-lite.example.test"]
            )
    finally:
        tenant_migrated.disconnect(refuse)
    assert not Tenant.objects.filter(tenant_id="prov_lite").exists()
    directory = Path(str(settings.OMNITENANT_CONFIG["SQLITE_DIRECTORY"]))
    assert not (directory / "prov_lite.sqlite3").exists()


# -- two creations racing for one id ----------------------------------------------------


def test_the_loser_of_two_createtenant_runs_gets_a_clear_error(
    purge_afterwards: list[str],
) -> None:
    purge_afterwards.append("prov_race")
    inside = threading.Event()
    release = threading.Event()
    result: dict[str, Any] = {}

    def hold(sender: Any, tenant: Any, **kwargs: Any) -> None:
        if tenant.tenant_id == "prov_race":
            inside.set()
            release.wait(60)

    def winner() -> None:
        try:
            result["tenant"] = provisioning.create_tenant("prov_race")
        except Exception as exc:  # asserted below
            result["error"] = exc
        finally:
            connections.close_all()

    tenant_created.connect(hold)
    thread = threading.Thread(target=winner)
    thread.start()
    try:
        assert inside.wait(60), "the winner never reached its tenant_created receiver"
        loser = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "manage.py"), "createtenant",
             "--tenant-id", "prov_race", "--noinput"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env=manage_environment(),
        )  # fmt: skip
        wait_for_a_lock_wait()
        release.set()
        thread.join(60)
        _out, err = loser.communicate(timeout=120)
    finally:
        release.set()
        tenant_created.disconnect(hold)
    assert "error" not in result, result
    assert loser.returncode == 1, err
    assert "A tenant 'prov_race' exists already." in err
    assert "Traceback" not in err
    assert Tenant.objects.filter(tenant_id="prov_race").count() == 1
    assert schema_exists("prov_race")


def manage_environment() -> dict[str, str]:

    return {
        **os.environ,
        "OMNITENANT_TEST_DATABASE": connections["default"].settings_dict["NAME"],
        "PYTHONPATH": str(ROOT),
    }


def wait_for_a_lock_wait() -> None:
    """Until a session of the test database waits for a lock (the loser's INSERT)."""
    name = connections["default"].settings_dict["NAME"]
    deadline = time.monotonic() + 60
    with admin_connection() as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND wait_event_type = 'Lock'",
                [name],
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.05)
    pytest.fail("the second createtenant never waited for the first one's row")


# -- transitions ------------------------------------------------------------------------


def test_transitions_follow_the_table_and_each_sends_a_signal(tenant_factory: Any) -> None:
    tenant = tenant_factory("prov_moves")
    seen: list[tuple[str, str]] = []

    def record(sender: Any, tenant: Any, previous: str, state: str, **kwargs: Any) -> None:
        seen.append((previous, state))

    tenant_state_changed.connect(record)
    try:
        provisioning.suspend(tenant, reason="unpaid")
        assert Tenant.objects.get(pk=tenant.pk).status_detail == "unpaid"
        provisioning.activate(tenant)
        provisioning.start_maintenance(tenant)
        with pytest.raises(provisioning.TransitionError, match="cannot become suspended"):
            provisioning.suspend(tenant)
        provisioning.end_maintenance(tenant)
        provisioning.mark_for_deletion(tenant)
        with pytest.raises(provisioning.TransitionError, match="marked for deletion already"):
            provisioning.mark_for_deletion(tenant)
        provisioning.restore(tenant)
        # Another process changed it meanwhile: the stale copy's change is refused.
        stale = Tenant.objects.get(pk=tenant.pk)
        provisioning.suspend(tenant)
        with pytest.raises(provisioning.TransitionError, match="changed meanwhile"):
            provisioning.start_maintenance(stale)
    finally:
        tenant_state_changed.disconnect(record)
    assert seen == [
        ("active", "suspended"),
        ("suspended", "active"),
        ("active", "maintenance"),
        ("maintenance", "active"),
        ("active", "marked_for_deletion"),
        ("marked_for_deletion", "active"),
        ("active", "suspended"),
    ]
    assert Tenant.objects.get(pk=tenant.pk).status == TenantStatus.SUSPENDED


def test_a_new_tenant_sends_tenant_migrated(purge_afterwards: list[str]) -> None:
    purge_afterwards.append("prov_sig")
    got: list[dict[str, Any]] = []

    def record(sender: Any, **kwargs: Any) -> None:
        got.append(kwargs)

    tenant_migrated.connect(record)
    try:
        tenant = provisioning.create_tenant("prov_sig")
    finally:
        tenant_migrated.disconnect(record)
    assert [(k["tenant"].tenant_id, k.get("created")) for k in got] == [("prov_sig", True)]
    assert tenant.status == TenantStatus.ACTIVE


def test_purge_needs_a_mark_and_drops_storage_and_row(tenant_factory: Any) -> None:
    tenant = tenant_factory("prov_purge")
    with pytest.raises(provisioning.TransitionError, match="mark it for deletion first"):
        provisioning.purge_tenant(tenant)
    assert schema_exists("prov_purge")
    provisioning.mark_for_deletion(tenant)
    provisioning.purge_tenant(tenant)
    assert not schema_exists("prov_purge")
    assert not Tenant.objects.filter(tenant_id="prov_purge").exists()


# -- requests in each state -------------------------------------------------------------


def get(host: str, path: str = "/notes/", method: str = "get") -> Any:
    return getattr(Client(), method)(path, HTTP_HOST=host)


def test_requests_answer_for_every_state(tenant_factory: Any) -> None:
    host = "prov-req.example.test"
    tenant = tenant_factory("prov_req", domains=[host])
    assert get(host).status_code == 200

    provisioning.suspend(tenant)
    suspended = get(host)
    assert suspended.status_code == 403
    assert b"suspended" in suspended.content
    with override_settings(OMNITENANT_CONFIG=config_with(SUSPENDED_RESPONSE="not_found")):
        assert get(host).status_code == 404
    provisioning.activate(tenant)
    assert get(host).status_code == 200

    provisioning.start_maintenance(tenant)
    maintenance = get(host)
    assert maintenance.status_code == 503
    assert maintenance["Retry-After"] == "30"
    provisioning.end_maintenance(tenant)

    provisioning.mark_for_deletion(tenant)
    assert get(host).status_code == 404
    provisioning.restore(tenant)
    assert get(host).status_code == 200

    # Nothing moves an existing tenant back to provisioning or failed; background
    # provisioning does (tests/celery); here the row is set as it would be.
    Tenant.objects.filter(pk=tenant.pk).update(status=TenantStatus.PROVISIONING)
    provisioning_response = get(host)
    assert provisioning_response.status_code == 503
    assert provisioning_response["Retry-After"] == "30"
    Tenant.objects.filter(pk=tenant.pk).update(status=TenantStatus.FAILED)
    assert get(host).status_code == 404


@pytest.mark.parametrize("kind", ["schema", "sqlite", "postgresql"])
def test_maintenance_is_read_only_at_the_database(kind: str, tenant_factory: Any) -> None:
    host = f"prov-ro-{kind}.example.test"
    fields: dict[str, Any] = {"domains": [host]}
    if kind == "postgresql":
        fields["database_config"] = pg_config("prov_ro")
    tenant = tenant_factory(
        f"prov_ro_{kind}", "schema" if kind == "schema" else "database", **fields
    )
    with TenantContext.use_tenant(tenant):
        Note.objects.create(text="before")
    provisioning.start_maintenance(tenant)

    with override_settings(OMNITENANT_CONFIG=config_with(MAINTENANCE_ALLOW_READS=True)):
        read = get(host)
        assert read.status_code == 200
        assert json.loads(read.content) == {"notes": ["before"]}
        # A GET whose view writes: the database refuses the write, the answer is 503.
        sneaky = get(host, "/notes/add/?text=during")
        assert sneaky.status_code == 503
        assert b"read-only" in sneaky.content
        assert get(host, "/notes/add/", method="post").status_code == 503

    # Code that enters the tenant the lifecycle's way: a clear error from the database.
    def write_in_maintenance() -> None:
        with lifecycle.use_tenant(tenant):
            assert list(Note.objects.values_list("text", flat=True)) == ["before"]
            Note.objects.create(text="during")

    with pytest.raises(lifecycle.TenantReadOnly, match="in maintenance"):
        write_in_maintenance()

    if kind != "sqlite":
        # On PostgreSQL the engine refuses it also under the low-level switch.
        with TenantContext.use_tenant(tenant), pytest.raises(DatabaseError) as refused:
            Note.objects.create(text="during, bare")
        assert lifecycle.is_read_only_violation(refused.value)
        # The operator's own work on it writes: its migrations, a repair by hand.
        with get_tenant_backend(tenant).migration_scope():
            Note.objects.create(text="repaired")
        call_command("migratetenant", "--tenant", tenant.tenant_id, stdout=io.StringIO())
        with maintenance_writes(), TenantContext.use_tenant(tenant):
            Note.objects.filter(text="repaired").delete()

    provisioning.end_maintenance(tenant)
    with lifecycle.use_tenant(tenant):
        Note.objects.create(text="after")  # the connection is writable again
    assert get(host).json() == {"notes": ["after", "before"]}


# -- commands in each state -------------------------------------------------------------

_WRITE_IF_OURS = (
    "from omnitenant_context import TenantContext as C\n"
    "from tests.tenantapp.models import Note\n"
    "t = C.get_tenant().tenant_id\n"
    "print('in', t)\n"
    "t.startswith('prov_cmd') and Note.objects.create(text='by command')\n"
)


def test_fleet_commands_touch_the_states_they_say(tenant_factory: Any) -> None:
    active = tenant_factory("prov_cmd_a")
    suspended = provisioning.suspend(tenant_factory("prov_cmd_s"))
    maintenance = provisioning.start_maintenance(tenant_factory("prov_cmd_m"))

    def tenantcommand(*extra: str) -> tuple[str, str, bool]:
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command(
                "tenantcommand", "--all-tenants", *extra, "shell", "--command",
                _WRITE_IF_OURS, stdout=out, stderr=err,
            )  # fmt: skip
        except CommandError:
            return out.getvalue(), err.getvalue(), False
        return out.getvalue(), err.getvalue(), True

    out, _err, ok = tenantcommand()
    assert ok
    assert "Tenants in state: active." in out
    assert "== prov_cmd_a" in out
    assert "== prov_cmd_s" not in out
    assert "== prov_cmd_m" not in out

    out, err, ok = tenantcommand("--include-state", "maintenance")
    assert not ok  # the write in the tenant in maintenance was refused by the database
    assert "== prov_cmd_m" in out
    assert "prov_cmd_m: TenantReadOnly" in err

    with TenantContext.use_tenant(active):
        assert Note.objects.count() == 2
    for tenant in (suspended, maintenance):
        with TenantContext.use_tenant(tenant):
            assert Note.objects.count() == 0

    migrated = io.StringIO()
    call_command(
        "migratealltenants", "--tenant", "prov_cmd_a", "--tenant", "prov_cmd_s",
        "--tenant", "prov_cmd_m", stdout=migrated,
    )  # fmt: skip
    assert "Tenants in state: active, suspended, maintenance, marked_for_deletion." in (
        migrated.getvalue()
    )


def test_deletetenant_marks_restores_and_purges_through_the_module(
    tenant_factory: Any,
) -> None:
    tenant = tenant_factory("prov_del")
    seen: list[str] = []

    def record(sender: Any, state: str, **kwargs: Any) -> None:
        seen.append(state)

    tenant_state_changed.connect(record)
    try:
        call_command("deletetenant", "--tenant", "prov_del", stdout=io.StringIO())
        with pytest.raises(CommandError, match="marked for deletion already"):
            call_command("deletetenant", "--tenant", "prov_del", stdout=io.StringIO())
        call_command("deletetenant", "--tenant", "prov_del", "--restore", stdout=io.StringIO())
        with pytest.raises(CommandError, match="mark it for deletion first"):
            call_command(
                "deletetenant", "--tenant", "prov_del", "--purge", "--noinput",
                stdout=io.StringIO(),
            )  # fmt: skip
    finally:
        tenant_state_changed.disconnect(record)
    assert seen == ["marked_for_deletion", "active"]
    assert schema_exists(tenant.schema_name)


def test_createtenant_in_a_subprocess_reports_a_taken_id_without_traceback(
    tenant_factory: Any,
) -> None:
    tenant_factory("prov_taken")
    done = manage("createtenant", "--tenant-id", "prov_taken", "--noinput")
    assert done.returncode == 1
    assert "exists already" in done.stderr
    assert "Traceback" not in done.stderr


def test_provisioning_error_names_the_tenant(purge_afterwards: list[str]) -> None:
    purge_afterwards.append("prov_bad_db")
    config = {**pg_config("prov_bad_db"), "PORT": 1}  # nothing listens there
    with pytest.raises(ProvisioningError, match="prov_bad_db"):
        provisioning.create_tenant("prov_bad_db", isolation_type="database", database_config=config)
    assert not Tenant.objects.filter(tenant_id="prov_bad_db").exists()


@pytest.mark.parametrize(
    ("state", "runs"),
    [
        ("active", True),
        ("suspended", True),
        ("maintenance", True),
        ("marked_for_deletion", True),
        ("provisioning", False),
        ("failed", False),
    ],
)
def test_commands_in_each_state(state: str, runs: bool, tenant_factory: Any) -> None:
    tenant = tenant_factory("prov_state")
    # Set as the provisioning module leaves it (not every state is one move from active).
    Tenant.objects.filter(pk=tenant.pk).update(status=state)
    named = io.StringIO()
    if runs:
        call_command("tenantcommand", "--tenant", "prov_state", "check", stdout=named)
        assert "1 of 1 tenants succeeded" in named.getvalue()
    else:
        with pytest.raises(CommandError, match="Failed in 1 tenant"):
            call_command(
                "tenantcommand", "--tenant", "prov_state", "check",
                stdout=named, stderr=io.StringIO(),
            )  # fmt: skip
    everyone = io.StringIO()
    call_command("tenantcommand", "--all-tenants", "check", stdout=everyone, stderr=io.StringIO())
    assert ("== prov_state" in everyone.getvalue()) == (state == "active")
    migrated = io.StringIO()
    call_command(
        "migratealltenants", "--tenant", "prov_state", "--no-skip",
        stdout=migrated, stderr=io.StringIO(),
    )  # fmt: skip
    touched = state not in {"provisioning", "failed"}
    assert ("prov_state: migrated" in migrated.getvalue()) == touched
