"""Purging a tenant drops its own storage and nothing else, ever."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from django_omnitenant.utils import get_tenant_backend
from omnitenant_backends import StorageInUse
from omnitenant_backends.schema import schema_exists
from omnitenant_context import TenantContext
from tests.tenantapp.models import Note
from tests.testapp.models import Tenant

pytestmark = pytest.mark.postgres


def execute(statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)


def relation_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        row = cursor.fetchone()
    return bool(row and row[0])


def purge(tenant_id: str) -> str:
    out = io.StringIO()
    if Tenant.objects.get(tenant_id=tenant_id).status != "marked_for_deletion":
        call_command("deletetenant", "--tenant", tenant_id, stdout=out)
    call_command("deletetenant", "--tenant", tenant_id, "--purge", "--noinput", stdout=out)
    return out.getvalue()


def test_purge_refuses_to_cascade_into_another_schema_and_names_what_depends(
    tenant_factory: Any,
) -> None:
    victim, neighbour = tenant_factory("purge_victim"), tenant_factory("purge_neighbour")
    with TenantContext.use_tenant(victim):
        Note.objects.create(text="victim's note")
    execute(
        'CREATE VIEW "purge_neighbour"."reads_victim" AS '
        'SELECT text FROM "purge_victim"."tenantapp_note"'
    )
    execute(
        'CREATE TABLE "purge_neighbour"."points_at_victim" (note_id bigint REFERENCES '
        '"purge_victim"."tenantapp_note" (id))'
    )
    with pytest.raises(CommandError) as refused:
        purge("purge_victim")
    message = str(refused.value)
    assert "view purge_neighbour.reads_victim" in message
    assert "on table purge_neighbour.points_at_victim" in message
    # Nothing was dropped, neither the tenant's schema nor its neighbour's objects.
    assert schema_exists("purge_victim")
    assert Tenant.objects.filter(tenant_id="purge_victim").exists()
    assert relation_exists('"purge_neighbour"."reads_victim"')
    with TenantContext.use_tenant(victim):
        assert Note.objects.count() == 1
    with pytest.raises(StorageInUse):
        get_tenant_backend(victim).delete(drop_data=True)

    execute('DROP VIEW "purge_neighbour"."reads_victim"')
    execute('DROP TABLE "purge_neighbour"."points_at_victim"')
    assert "Purged tenant 'purge_victim'" in purge("purge_victim")
    assert not schema_exists("purge_victim")
    with TenantContext.use_tenant(neighbour):
        assert Note.objects.count() == 0  # the neighbour's own tables are intact


def test_a_tenants_own_views_functions_and_keys_do_not_hold_up_its_purge(
    tenant_factory: Any,
) -> None:
    tenant_factory("purge_self")
    execute('CREATE VIEW "purge_self"."own_view" AS SELECT text FROM "purge_self"."tenantapp_note"')
    execute("CREATE TYPE \"purge_self\".\"mood\" AS ENUM ('ok', 'sad')")
    execute('CREATE TABLE "purge_self"."moods" (m "purge_self"."mood" DEFAULT \'ok\')')
    execute(
        'CREATE FUNCTION "purge_self"."count_notes"() RETURNS bigint LANGUAGE sql AS '
        '$$ SELECT count(*) FROM "purge_self"."tenantapp_note" $$'
    )
    assert "Purged tenant 'purge_self'" in purge("purge_self")
    assert not schema_exists("purge_self")
