"""findorphans: storage no tenant names, tenants without storage; removal only when asked."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from psycopg import sql

from django_omnitenant.utils import get_tenant_backend
from omnitenant_backends.database import database_exists, sqlite_directory
from omnitenant_backends.schema import schema_exists
from tests.support import manage
from tests.testapp.models import Tenant

pytestmark = pytest.mark.postgres

RUN = os.environ["OMNITENANT_TEST_RUN"]


def findorphans(*args: str) -> str:
    out = io.StringIO()
    call_command("findorphans", *args, stdout=out)
    return out.getvalue()


def report() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(findorphans("--format", "json"))
    return result


def names(entries: list[dict[str, Any]]) -> set[str]:
    return {entry["name"] for entry in entries}


def execute(statement: sql.Composable | str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)


def pg_entry(name: str) -> dict[str, Any]:
    master = connections["default"].settings_dict
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "HOST": master["HOST"],
        "USER": master["USER"],
    }


def server_execute(statement: sql.Composable) -> None:
    """Outside a transaction (CREATE/DROP DATABASE), on the master's server."""
    with connections["default"]._nodb_cursor() as cursor:
        cursor.execute(statement)


@pytest.fixture
def fleet(tenant_factory: Any) -> Iterator[dict[str, Any]]:
    """Kept tenants, orphans of each kind, look-alikes that are not tenants', and rows
    without storage."""
    orphan_db = f"orph_db_{RUN}"
    plain_db = f"orph_plain_{RUN}"
    kept = tenant_factory("orph_kept")
    # Orphans: storage whose rows were deleted behind the command's back.
    gone_schema = tenant_factory("orph_schema")
    # Database tenants without migrations: only their existence matters here.
    gone_db = Tenant.objects.create(
        tenant_id="orph_db",
        name="Db",
        isolation_type="database",
        database_config=pg_entry(orphan_db),
    )
    gone_file = Tenant.objects.create(tenant_id="orph_file", name="File", isolation_type="database")
    for tenant in (gone_db, gone_file):
        get_tenant_backend(tenant).create(run_migrations=False)
    Tenant.objects.filter(pk__in=[gone_schema.pk, gone_db.pk, gone_file.pk]).delete()
    sqlite_file = str((sqlite_directory() / "orph_file.sqlite3").resolve())
    # Look-alikes that are not a tenant's storage, and must never be reported.
    execute('CREATE SCHEMA "orph_no_migrations"')
    execute('CREATE SCHEMA "orph-pool-like"')
    execute('CREATE TABLE "orph-pool-like"."django_migrations" (id int, app text, name text)')
    server_execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(plain_db)))
    (sqlite_directory() / "notes.txt").write_text("not a tenant")
    (sqlite_directory() / "Not-An-Id.sqlite3").write_text("")
    # Rows without storage.
    no_schema = Tenant.objects.create(tenant_id="orph_rowonly", name="Row only")
    no_db = Tenant.objects.create(
        tenant_id="orph_nodb",
        name="No db",
        isolation_type="database",
        database_config=pg_entry(f"orph_nodb_{RUN}"),
    )
    try:
        yield {
            "kept": kept,
            "schema": "orph_schema",
            "database": orphan_db,
            "sqlite": sqlite_file,
            "plain_db": plain_db,
        }
    finally:
        no_schema.delete()
        no_db.delete()
        for schema in ("orph_schema", "orph_no_migrations", "orph-pool-like"):
            execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        for database in (orphan_db, plain_db):
            server_execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        for name in ("orph_file.sqlite3", "notes.txt", "Not-An-Id.sqlite3"):
            (sqlite_directory() / name).unlink(missing_ok=True)


def assert_all_orphans_still_there(fleet: dict[str, Any]) -> None:
    assert schema_exists(fleet["schema"])
    assert database_exists(pg_entry(fleet["database"]))
    assert Path(fleet["sqlite"]).exists()


# One fleet for the whole story: making it (four tenants, three of them migrated) is the
# slow part.
def test_reports_then_removes_only_orphans_and_only_when_asked(fleet: dict[str, Any]) -> None:
    # 1. The report: the three orphans, the two rows without storage, nothing else.
    # (Compared within this test's own names: the suite's other tests have tenants too.)
    found = report()
    ours = {
        ("schema", fleet["schema"]),
        ("database", fleet["database"]),
        ("sqlite", fleet["sqlite"]),
    }
    reported = {(o["kind"], o["name"]) for o in found["orphans"]}
    assert ours <= reported
    assert not {name for _, name in reported} & {
        "orph_kept",
        "public",
        "omnitenant_template",
        "orph_no_migrations",
        "orph-pool-like",
        fleet["plain_db"],
        connections["default"].settings_dict["NAME"],
    }
    assert {(m["tenant_id"], m["problem"]) for m in found["missing"]} >= {
        ("orph_rowonly", "missing"),
        ("orph_nodb", "missing"),
    }
    assert "orph_kept" not in {m["tenant_id"] for m in found["missing"]}
    assert found["removed"] == []
    text = findorphans()
    assert f"schema   {fleet['schema']}" in text
    assert "orph_rowonly" in text
    assert "Run with --remove" in text
    assert_all_orphans_still_there(fleet)

    # 2. Removing needs a terminal to confirm, or --noinput.
    refused = manage("findorphans", "--remove", stdin="remove\n")
    assert refused.returncode == 2, refused.stderr
    assert "--noinput" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert_all_orphans_still_there(fleet)

    # 3. Only orphans can be named, never a tenant's or a shared schema.
    with pytest.raises(CommandError, match="--remove too"):
        findorphans("--only", fleet["schema"])
    for not_an_orphan in ("orph_kept", "public", "orph_no_migrations", fleet["plain_db"]):
        with pytest.raises(CommandError, match="Not orphans"):
            findorphans("--remove", "--noinput", "--only", not_an_orphan)

    # 4. An orphan another schema depends on is not dropped (nor the dependent).
    execute(
        'CREATE VIEW "orph_kept"."reads_orphan" AS SELECT text FROM "orph_schema"."tenantapp_note"'
    )
    try:
        with pytest.raises(CommandError, match=r"view orph_kept\.reads_orphan"):
            findorphans("--remove", "--noinput", "--only", fleet["schema"])
        assert_all_orphans_still_there(fleet)
    finally:
        execute('DROP VIEW IF EXISTS "orph_kept"."reads_orphan"')

    # 5. Removal, of the selected orphans only, then of the rest.
    out = findorphans("--remove", "--noinput", "--only", fleet["schema"], "--only", fleet["sqlite"])
    assert "(removed)" in out
    assert not schema_exists(fleet["schema"])
    assert not Path(fleet["sqlite"]).exists()
    assert database_exists(pg_entry(fleet["database"]))  # not selected
    findorphans("--remove", "--noinput", "--only", fleet["database"])
    assert not database_exists(pg_entry(fleet["database"]))
    assert not ours & {(o["kind"], o["name"]) for o in report()["orphans"]}
    # The kept tenant, the shared schema, the look-alikes and the rows are untouched.
    assert schema_exists("orph_kept")
    assert schema_exists("public")
    assert schema_exists("orph_no_migrations")
    assert schema_exists("orph-pool-like")
    assert database_exists(pg_entry(fleet["plain_db"]))
    assert (sqlite_directory() / "notes.txt").exists()
    assert Tenant.objects.filter(tenant_id__in=["orph_rowonly", "orph_nodb"]).count() == 2
