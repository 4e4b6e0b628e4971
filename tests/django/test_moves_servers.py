"""Moves between two real PostgreSQL servers (issue 17): the second cluster of the run.

A schema tenant moves from the master's server to the second one and back, and from a
schema on the second server to a database of its own and on to a schema of the second
server again; after each move the rows, the next id and a request to the tenant's host
are checked on the server that holds the tenant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from django_omnitenant import moves, provisioning
from django_omnitenant.constants import TenantStatus
from omnitenant_backends.schema import schema_exists
from tests.django.test_moves import fill, notes, purge_kept_sources, reload, rows_and_next_id, run
from tests.django.test_provisioning import database_exists, pg_config
from tests.testapp.models import Tenant

pytestmark = [pytest.mark.postgres, pytest.mark.second_server]


@pytest.fixture
def on_two_servers(second_server: str, tenant_factory: Any) -> Iterator[Any]:
    yield tenant_factory
    purge_kept_sources()


def rows_on(alias: str, schema: str) -> list[str]:
    with connections[alias].cursor() as cursor:
        cursor.execute(f'SELECT text FROM "{schema}".tenantapp_note ORDER BY text')  # noqa: S608
        return [str(row[0]) for row in cursor.fetchall()]


def test_a_schema_tenant_moves_between_servers_and_isolation_types(
    on_two_servers: Any, second_server: str, tmp_path: Path
) -> None:
    host = "mv-servers.example.test"
    tenant = on_two_servers("mv_servers", domains=[host], server="default")
    before = fill(tenant)
    assert "note 0" in notes(host)

    report = json.loads(
        run("movetenant", "--tenant=mv_servers", f"--to-server={second_server}", "--format=json")
    )
    assert report["target"] == f"schema 'mv_servers' on server {second_server!r}"
    moved = reload(tenant)
    assert (moved.server, moved.isolation_type, moved.status) == (
        second_server,
        "schema",
        TenantStatus.ACTIVE,
    )
    assert schema_exists("mv_servers", using=second_server)
    assert not schema_exists("mv_servers", using="default")  # kept under another name
    assert "on server 'default'" in moves.kept_source(moved)
    rows, next_id = rows_and_next_id(moved)
    assert rows == before["rows"]
    assert next_id == before["last_id"] + 1
    assert Client().get("/notes/add/?text=on the second", HTTP_HOST=host).status_code == 200
    assert "on the second" in rows_on(second_server, "mv_servers")

    # From the second server to a PostgreSQL database of its own, then to a schema on the
    # second server again (the placement policy is not asked: the server is given).
    run("movetenant", "--tenant=mv_servers", "--purge-source")
    config = pg_config("mv_servers")
    run(
        "movetenant",
        "--tenant=mv_servers",
        "--to-isolation=database",
        "--db-engine=postgresql",
        f"--db-name={config['NAME']}",
        f"--db-host={config['HOST']}",
        f"--db-user={config['USER']}",
    )
    as_database = reload(tenant)
    assert (as_database.isolation_type, as_database.server) == ("database", "")
    assert "on the second" in notes(host)
    run("movetenant", "--tenant=mv_servers", "--purge-source")
    assert not schema_exists("mv_servers", using=second_server)
    run(
        "movetenant", "--tenant=mv_servers", "--to-isolation=schema", f"--to-server={second_server}"
    )
    back = reload(tenant)
    assert (back.isolation_type, back.server) == ("schema", second_server)
    assert "on the second" in rows_on(second_server, "mv_servers")
    rows, next_id = rows_and_next_id(back)
    assert len(rows) == 6
    assert next_id == before["last_id"] + 3
    run("movetenant", "--tenant=mv_servers", "--purge-source")
    assert not database_exists(config["NAME"])

    # An archive of it loads into a new tenant on the server asked for.
    archive = tmp_path / "mv_servers.omnitenant"
    run("dumptenant", "--tenant=mv_servers", "-o", str(archive))
    run("loadtenant", str(archive), "--tenant-id=mv_servers_copy", f"--server={second_server}")
    copy = Tenant.objects.get(tenant_id="mv_servers_copy")
    try:
        assert copy.server == second_server
        assert "on the second" in rows_on(second_server, "mv_servers_copy")
    finally:
        provisioning.purge_tenant(copy, require_mark=False)
