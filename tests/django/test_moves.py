"""Moving tenants between isolation types, and tenant archives, on real PostgreSQL.

Each move is checked the way a user depends on it: the rows (with their ids and foreign
keys), the sequences (the next id continues), requests to the tenant's host reaching the
new storage, the source kept until purged. A move killed halfway (the copy connection
terminated by another session) and a switch that fails leave the tenant active on its
source with its data and no target. Archives load into a new tenant, on another isolation
type too, and are refused, with nothing made, when their migration state or rows are wrong.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import Client

from django_omnitenant import moves, provisioning
from django_omnitenant.constants import TenantStatus
from django_omnitenant.signals import tenant_state_changed
from omnitenant_backends.copying import COPY_APPLICATION_NAME
from omnitenant_backends.database import tenant_database_settings
from omnitenant_backends.schema import kept_schemas, schema_exists
from omnitenant_context import TenantContext
from tests.django.test_provisioning import admin_connection, database_exists, pg_config
from tests.support import manage
from tests.tenantapp.models import Note, Notebook
from tests.testapp.models import Tenant

pytestmark = pytest.mark.postgres


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def notes(host: str) -> list[str]:
    response = Client().get("/notes/", HTTP_HOST=host)
    assert response.status_code == 200, response.content
    return list(response.json()["notes"])


def fill(tenant: Any) -> dict[str, Any]:
    """Rows with foreign keys, and a deleted row: the sequence is ahead of the largest id."""
    with TenantContext.use_tenant(tenant):
        book = Notebook.objects.create(title="Ledger")
        for index in range(5):
            Note.objects.create(notebook=book, text=f"note {index}", priority=1 + index % 5)
        last = Note.objects.create(text="deleted soon")
        last_id = last.id
        last.delete()
        return {
            "rows": sorted(Note.objects.values_list("id", "notebook_id", "text", "priority")),
            "last_id": last_id,
        }


def rows_and_next_id(tenant: Any) -> tuple[list[Any], int]:
    with TenantContext.use_tenant(tenant):
        rows = sorted(Note.objects.values_list("id", "notebook_id", "text", "priority"))
        new = Note.objects.create(text="after the move")
        new_id = new.id
        new.delete()
    return rows, new_id


def purge_kept_sources() -> None:
    """Drop what the moves of this module's tenants kept (their ids start with ``mv_``)."""
    for tenant in Tenant.objects.filter(tenant_id__startswith="mv_"):
        if moves.kept_source(tenant):
            moves.purge_source(tenant)


@pytest.fixture
def movable(tenant_factory: Any) -> Iterator[Any]:
    """``tenant_factory``, and the kept sources of moved tenants purged afterwards."""
    yield tenant_factory
    purge_kept_sources()


def reload(tenant: Any) -> Any:
    return Tenant.objects.get(pk=tenant.pk)


# -- moves -------------------------------------------------------------------------------


def test_schema_to_postgres_database_and_back(movable: Any) -> None:
    host = "mv-pg.example.test"
    tenant = movable("mv_pg", domains=[host])
    before = fill(tenant)
    assert "note 0" in notes(host)  # the lookup is cached now, as a schema tenant
    config = pg_config("mv_pg")

    report = json.loads(
        run(
            "movetenant",
            "--tenant=mv_pg",
            "--to-isolation=database",
            "--db-engine=postgresql",
            f"--db-name={config['NAME']}",
            f"--db-host={config['HOST']}",
            f"--db-user={config['USER']}",
            "--format=json",
        )
    )
    moved = reload(tenant)
    assert (moved.isolation_type, moved.status) == ("database", TenantStatus.ACTIVE)
    assert moved.database_config["NAME"] == config["NAME"]
    copied = {table["table"]: table["rows"] for table in report["copy"]["tables"]}
    assert copied["tenantapp_note"] == 5
    assert copied["tenantapp_notebook"] == 1
    assert report["write_unavailable_seconds"] > 0
    assert report["copy"]["bytes_per_second"] > 0
    # The old schema is renamed out of the way and kept; its name is free.
    assert not schema_exists("mv_pg")
    assert [kept.tenant_id for kept in kept_schemas()].count("mv_pg") == 1

    rows, next_id = rows_and_next_id(moved)
    assert rows == before["rows"]
    assert next_id == before["last_id"] + 1  # the sequence came along
    # Requests follow the move (the cached lookup was invalidated): a note written in
    # the new database shows through the tenant's host.
    with TenantContext.use_tenant(moved):
        Note.objects.create(text="only in the database")
    assert "only in the database" in notes(host)

    # A second move is refused while the first one's source is kept.
    with pytest.raises(CommandError, match="purge it first"):
        run("movetenant", "--tenant=mv_pg", "--to-isolation=schema")
    run("movetenant", "--tenant=mv_pg", "--purge-source")
    assert "mv_pg" not in [kept.tenant_id for kept in kept_schemas()]

    # And back to a schema, PostgreSQL to PostgreSQL again.
    out = run("movetenant", "--tenant=mv_pg", "--to-isolation=schema")
    assert "Moved tenant 'mv_pg'" in out
    assert "tenantapp_note: 6 rows" in out
    back = reload(tenant)
    assert back.isolation_type == "schema"
    assert schema_exists("mv_pg")
    assert "only in the database" in notes(host)
    rows, next_id = rows_and_next_id(back)
    assert len(rows) == 6
    assert next_id == before["last_id"] + 3
    # The database is kept, read-only for new sessions, until purged.
    assert database_exists(config["NAME"])
    assert moves.kept_source(back).startswith("PostgreSQL database")
    with (
        psycopg.connect(
            host=config["HOST"], user=config["USER"], dbname=config["NAME"], autocommit=True
        ) as old,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        old.execute("DELETE FROM tenantapp_note")
    purged = run("movetenant", "--tenant=mv_pg", "--purge-source")
    assert config["NAME"] in purged
    assert not database_exists(config["NAME"])
    assert reload(tenant).database_config == {}


def test_schema_to_sqlite_and_back_by_rows(movable: Any) -> None:
    host = "mv-sqlite.example.test"
    tenant = movable("mv_sqlite", domains=[host])
    before = fill(tenant)

    report = moves.move_tenant(tenant, isolation_type="database", database_config={})
    assert report.target.startswith("SQLite file")
    moved = reload(tenant)
    assert moved.isolation_type == "database"
    path = Path(tenant_database_settings(moved)["NAME"])
    assert path.exists()
    rows, next_id = rows_and_next_id(moved)
    assert rows == before["rows"]
    assert next_id == before["last_id"] + 1
    assert sorted(notes(host)) == [f"note {index}" for index in range(5)]

    moves.purge_source(moved)
    moves.move_tenant(moved, isolation_type="schema")
    back = reload(tenant)
    rows, next_id = rows_and_next_id(back)
    assert rows == before["rows"]
    assert next_id == before["last_id"] + 2  # one id was taken while it was in SQLite
    assert path.exists()  # kept until purged, and no orphan meanwhile
    orphans = json.loads(run("findorphans", "--format=json"))["orphans"]
    assert str(path.resolve()) not in json.dumps(orphans)
    moves.purge_source(back)
    assert not path.exists()


def _terminate_copy_writer() -> int:
    with admin_connection() as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = %s",
            [COPY_APPLICATION_NAME, pg_config("mv_kill")["NAME"]],
        ).fetchall()
    return len(rows)


def test_a_move_killed_halfway_leaves_the_tenant_on_its_source(movable: Any) -> None:
    host = "mv-kill.example.test"
    tenant = movable("mv_kill", domains=[host])
    before = fill(tenant)
    config = pg_config("mv_kill")
    killed: list[int] = []

    def kill_after_first_table(event: str, details: dict[str, Any]) -> None:
        if event == "table" and not killed:
            killed.append(_terminate_copy_writer())

    with pytest.raises(moves.MoveError) as raised:
        moves.move_tenant(
            tenant,
            isolation_type="database",
            database_config=config,
            progress=kill_after_first_table,
        )
    assert killed == [1]
    assert "active on its source" in str(raised.value)
    stored = reload(tenant)
    assert (stored.isolation_type, stored.status) == ("schema", TenantStatus.ACTIVE)
    assert not database_exists(config["NAME"])  # the partial target is gone
    assert moves.kept_source(stored) == ""
    rows, _ = rows_and_next_id(stored)
    assert rows == before["rows"]
    assert "note 0" in notes(host)  # served, and writable again:
    assert Client().get("/notes/add/?text=after", HTTP_HOST=host).status_code == 200


def test_a_failing_switch_keeps_the_source_and_removes_the_target(movable: Any) -> None:
    tenant = movable("mv_switch", domains=["mv-switch.example.test"])
    before = fill(tenant)
    config = pg_config("mv_switch")
    failed: list[str] = []

    def refuse_activation(sender: Any, tenant: Any, state: str, **kwargs: Any) -> None:
        if state == TenantStatus.ACTIVE and not failed:
            failed.append(tenant.tenant_id)
            raise RuntimeError("a receiver refused the switch")

    tenant_state_changed.connect(refuse_activation)
    try:
        with pytest.raises(RuntimeError, match="refused the switch"):
            moves.move_tenant(tenant, isolation_type="database", database_config=config)
    finally:
        tenant_state_changed.disconnect(refuse_activation)
    stored = reload(tenant)
    assert (stored.isolation_type, stored.status) == ("schema", TenantStatus.ACTIVE)
    assert schema_exists("mv_switch")  # the rename rolled back with the switch
    assert not database_exists(config["NAME"])
    assert moves.kept_source(stored) == ""
    assert rows_and_next_id(stored)[0] == before["rows"]


def test_bad_input_is_refused_before_anything_changes(movable: Any) -> None:
    tenant = movable("mv_bad")
    with pytest.raises(CommandError, match="is there already"):
        run("movetenant", "--tenant=mv_bad", "--to-isolation=schema")
    with pytest.raises(CommandError, match="has no source kept"):
        run("movetenant", "--tenant=mv_bad", "--purge-source")
    with pytest.raises(CommandError) as usage:
        run("movetenant", "--tenant=mv_bad", "--to-isolation=schema", "--db-name=x")
    assert usage.value.returncode == 2
    with pytest.raises(CommandError, match="no tenant 'mv_nobody'"):
        run("movetenant", "--tenant=mv_nobody", "--to-isolation=database")
    with pytest.raises(CommandError, match=r"database name .bad-name. may contain only"):
        run(
            "movetenant",
            "--tenant=mv_bad",
            "--to-isolation=database",
            "--db-engine=postgresql",
            "--db-name=bad-name",
        )
    provisioning.suspend(tenant)
    with pytest.raises(CommandError, match="only active tenants move"):
        run("movetenant", "--tenant=mv_bad", "--to-isolation=database")
    provisioning.activate(tenant)
    stored = reload(tenant)
    assert (stored.isolation_type, stored.status) == ("schema", TenantStatus.ACTIVE)

    result = manage("movetenant", "--tenant=mv_bad", "--to-isolation=schema")
    assert result.returncode == 1
    assert "is there already" in result.stderr
    assert "Traceback" not in result.stderr
    result = manage("movetenant", "--tenant=mv_bad")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_the_storage_fields_stay_immutable_outside_a_move(movable: Any) -> None:
    tenant = movable("mv_fixed")
    tenant.isolation_type = "database"
    with pytest.raises(ValidationError, match="cannot be changed"):
        tenant.save()
    with pytest.raises(ValidationError, match="cannot be changed"):
        Tenant.objects.filter(pk=tenant.pk).update(isolation_type="database")
    with pytest.raises(ValidationError, match="cannot be changed"):
        Tenant.objects.filter(pk=tenant.pk).update(server="elsewhere")


# -- archives ------------------------------------------------------------------------------


def test_dump_and_load_round_trip_on_both_isolation_types(movable: Any, tmp_path: Path) -> None:
    source = movable("mv_dump", domains=["mv-dump.example.test"])
    before = fill(source)
    archive = tmp_path / "mv_dump.omnitenant"
    out = run("dumptenant", "--tenant=mv_dump", "-o", str(archive))
    assert "Dumped tenant 'mv_dump'" in out
    with zipfile.ZipFile(archive) as opened:
        manifest = json.loads(opened.read("manifest.json"))
    assert manifest["tenant"]["tenant_id"] == "mv_dump"
    assert ["tenantapp", "0001_initial"] in manifest["migrations"]

    for new_id, isolation in (("mv_loaded", "schema"), ("mv_loaded_db", "database")):
        host = f"{new_id.replace('_', '-')}.example.test"
        loaded_out = run(
            "loadtenant",
            str(archive),
            f"--tenant-id={new_id}",
            f"--domain={host}",
            f"--isolation-type={isolation}",
        )
        assert f"Created tenant {new_id!r}" in loaded_out
        loaded = Tenant.objects.get(tenant_id=new_id)
        try:
            assert loaded.isolation_type == isolation
            rows, next_id = rows_and_next_id(loaded)
            assert rows == before["rows"]
            assert next_id == before["last_id"] + 1
            assert sorted(notes(host)) == [f"note {index}" for index in range(5)]
        finally:
            provisioning.purge_tenant(loaded, require_mark=False)

    with pytest.raises(CommandError, match="exists already"):
        run("dumptenant", "--tenant=mv_dump", "-o", str(archive))


def _rewritten(archive: Path, target: Path, change: Any) -> Path:
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(target, "w") as copy:
        for item in source.infolist():
            copy.writestr(item.filename, change(item.filename, source.read(item.filename)))
    return target


def test_load_refuses_archives_it_cannot_load_and_makes_nothing(
    movable: Any, tmp_path: Path
) -> None:
    movable("mv_src")
    fill(Tenant.objects.get(tenant_id="mv_src"))
    archive = tmp_path / "src.omnitenant"
    run("dumptenant", "--tenant=mv_src", "-o", str(archive))

    def newer_migrations(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["migrations"].append(["tenantapp", "0099_from_the_future"])
        return json.dumps(manifest).encode()

    def changed_row(name: str, data: bytes) -> bytes:
        return data.replace(b"note 3", b"note 9") if name.endswith("tenantapp_note.jsonl") else data

    newer = _rewritten(archive, tmp_path / "newer.omnitenant", newer_migrations)
    damaged = _rewritten(archive, tmp_path / "damaged.omnitenant", changed_row)
    not_an_archive = tmp_path / "plain.txt"
    not_an_archive.write_text("hello")
    cases = [
        (newer, "tenantapp.0099_from_the_future"),
        (damaged, "the file is damaged"),
        (not_an_archive, "is not a tenant archive"),
        (tmp_path / "missing.omnitenant", "There is no file"),
    ]
    for path, message in cases:
        for isolation in ("schema", "database"):
            with pytest.raises(CommandError, match=message):
                run(
                    "loadtenant",
                    str(path),
                    "--tenant-id=mv_refused",
                    "--domain=mv-refused.example.test",
                    f"--isolation-type={isolation}",
                )
            assert not Tenant.objects.filter(tenant_id="mv_refused").exists()
            assert not schema_exists("mv_refused")
            sqlite_file = Path(
                tenant_database_settings(Tenant(tenant_id="mv_refused", isolation_type="database"))[
                    "NAME"
                ]
            )
            assert not sqlite_file.exists()

    result = manage("loadtenant", str(newer), "--tenant-id=mv_refused")
    assert result.returncode == 1
    assert "nothing was created" in result.stderr
    assert "Traceback" not in result.stderr
    assert connections["default"].is_usable()
