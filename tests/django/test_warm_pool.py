"""The warm pool of ready schemas, on real PostgreSQL."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from psycopg import sql

from django_omnitenant import provisioning
from django_omnitenant.signals import tenant_created
from omnitenant_backends.pool import POOL_PREFIX, claim_pool_schema, fill_pool, pool_schemas
from omnitenant_backends.schema import schema_exists, tenant_schema_names
from omnitenant_context import InvalidIdentifier, ProvisioningError, TenantContext, check_identifier
from tests.tenantapp.models import Note
from tests.testapp.models import Tenant

pytestmark = pytest.mark.postgres


def execute(query: sql.Composable | str, params: list[Any] | None = None) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute(query, params)


def drain() -> None:
    for schema in pool_schemas():
        execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def pool(live_db: None) -> Iterator[None]:
    drain()
    with override_settings(OMNITENANT_CONFIG={**settings.OMNITENANT_CONFIG, "WARM_POOL_SIZE": 2}):
        yield
    drain()


def test_creating_a_schema_tenant_claims_a_ready_schema(pool: None, tenant_factory: Any) -> None:
    out = io.StringIO()
    call_command("fillwarmpool", stdout=out)
    assert "Warm pool: 2 ready (2 made" in out.getvalue()
    before = pool_schemas()
    assert len(before) == 2
    # Not reachable as a tenant: outside the identifier rule, not listed as a tenant's.
    for name in before:
        assert name.startswith(POOL_PREFIX)
        with pytest.raises(InvalidIdentifier):
            check_identifier(name, what="schema name")
        assert name not in tenant_schema_names()
    with pytest.raises(ValidationError):
        provisioning.create_tenant("pool_thief", schema_name=before[0])

    tenant = tenant_factory("pool_a")
    after = pool_schemas()
    assert after == before[1:]  # the first one was renamed, not copied
    assert schema_exists("pool_a")
    with TenantContext.use_tenant(tenant):
        Note.objects.create(text="in a claimed schema")
        assert list(Note.objects.values_list("text", flat=True)) == ["in a claimed schema"]


def test_a_failed_creation_gives_the_schema_back(pool: None) -> None:
    fill_pool()
    before = pool_schemas()

    def refuse(sender: Any, tenant: Any, **kwargs: Any) -> None:
        raise RuntimeError("no")

    tenant_created.connect(refuse)
    try:
        with pytest.raises(ProvisioningError):
            provisioning.create_tenant("pool_fail")
    finally:
        tenant_created.disconnect(refuse)
    assert pool_schemas() == before
    assert not schema_exists("pool_fail")
    assert not Tenant.objects.filter(tenant_id="pool_fail").exists()


def test_a_stale_pool_schema_is_never_claimed_and_is_replaced(
    pool: None, tenant_factory: Any
) -> None:
    fill_pool(1)
    (stale,) = pool_schemas()
    execute(
        sql.SQL("DELETE FROM {} WHERE app = 'tenantapp'").format(
            sql.Identifier(stale, "django_migrations")
        )
    )
    tenant_factory("pool_b")  # cloned or migrated: the stale schema stays unclaimed
    assert pool_schemas() == [stale]
    out = io.StringIO()
    call_command("migratealltenants", "--tenant", "pool_b", stdout=out)
    assert "Warm pool: 2 ready (1 stale replaced)" in out.getvalue()
    assert stale not in pool_schemas()
    assert len(pool_schemas()) == 2


def test_the_pool_is_off_by_default(live_db: None) -> None:
    out = io.StringIO()
    call_command("fillwarmpool", stdout=out)
    assert "The warm pool is off" in out.getvalue()
    with connections["default"].cursor():
        from django.db import transaction

        with transaction.atomic():
            assert claim_pool_schema("pool_none", using="default") is False


class Terminal(io.StringIO):
    """An output stream that says it is a terminal, as a console's would."""

    def isatty(self) -> bool:
        return True


def test_fillwarmpool_draws_a_bar_on_a_terminal_only(pool: None) -> None:
    terminal = Terminal()
    call_command("fillwarmpool", stdout=terminal)
    drawn = terminal.getvalue()
    assert "\rwarm pool [###############               ] 1/2" in drawn
    assert "\rwarm pool [##############################] 2/2" in drawn
    assert drawn.endswith("Warm pool: 2 ready (2 made, 0 stale dropped).\n")
    drain()
    piped = io.StringIO()
    call_command("fillwarmpool", stdout=piped)
    assert piped.getvalue() == "Warm pool: 2 ready (2 made, 0 stale dropped).\n"
    drain()
    forced = io.StringIO()
    call_command("fillwarmpool", "--progress", "bar", stdout=forced)
    assert "] 2/2" in forced.getvalue()


def test_fillwarmpool_reports_json_and_nothing_else(pool: None) -> None:
    out = Terminal()  # no bar even on a terminal: stdout is for the report
    call_command("fillwarmpool", "--format", "json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "ready": 2,
        "made": 2,
        "dropped": 0,
        "off": False,
        "servers": {"default": {"ready": 2, "made": 2, "dropped": 0}},
    }
    again = io.StringIO()
    call_command("fillwarmpool", "--format", "json", stdout=again)
    assert json.loads(again.getvalue()) == {
        "ready": 2,
        "made": 0,
        "dropped": 0,
        "off": False,
        "servers": {"default": {"ready": 2, "made": 0, "dropped": 0}},
    }


def test_fillwarmpool_reports_json_when_the_pool_is_off(live_db: None) -> None:
    out = io.StringIO()
    call_command("fillwarmpool", "--format", "json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "ready": 0,
        "made": 0,
        "dropped": 0,
        "off": True,
        "servers": {},
    }


def test_migratealltenants_draws_its_bar_on_a_terminal(tenant_factory: Any) -> None:
    tenant_factory("pool_bar_a")
    tenant_factory("pool_bar_b")
    terminal = Terminal()
    call_command(
        "migratealltenants", "--tenant", "pool_bar_a", "--tenant", "pool_bar_b", stdout=terminal
    )
    assert "\r[##############################] 2/2" in terminal.getvalue()
    assert "pool_bar_a: " not in terminal.getvalue()  # no line per tenant under the bar
