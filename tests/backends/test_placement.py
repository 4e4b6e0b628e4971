"""Schema tenants placed on two real PostgreSQL servers (issue 17, placement).

The second server is a cluster of the run's own (``second_cluster``), added to
``DATABASES`` as ``"second"`` for each test (``second_server``). Every check reads the
servers themselves: which database holds the schema, which rows a tenant sees.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections, transaction
from django.test import Client, override_settings

from django_omnitenant import provisioning
from django_omnitenant.placement import server_of, tenants_per_server
from omnitenant_backends.placement import UnknownServer, servers, tenant_server
from omnitenant_backends.schema import schema_exists
from omnitenant_context import ProvisioningError, TenantContext
from tests.tenantapp.models import Note
from tests.testapp.models import Domain, Tenant

pytestmark = [pytest.mark.postgres, pytest.mark.second_server]

TenantFactory = Callable[..., Any]


@pytest.fixture
def placed(second_server: str, tenant_factory: TenantFactory) -> TenantFactory:
    """``tenant_factory`` while the second server is configured (purged at the end)."""
    return tenant_factory


def schemas_on(alias: str, *names: str) -> set[str]:
    """Which of ``names`` exist as schemas on the server of ``alias``."""
    return {name for name in names if schema_exists(name, using=alias)}


def test_the_second_alias_is_a_server_and_the_master_comes_first(second_server: str) -> None:
    assert servers() == ("default", second_server)


def test_fewest_places_each_new_tenant_on_the_emptier_server(
    placed: TenantFactory, second_server: str
) -> None:
    # Relative to the schema tenants earlier tests of the session left on the master.
    counts = tenants_per_server()
    expected: list[str] = []
    for _ in range(3):
        # A tie goes to the master (first); otherwise the server with fewer tenants.
        choice = min(counts, key=lambda alias: counts[alias])
        expected.append(choice)
        counts[choice] += 1
    names = ["pl_fewest_a", "pl_fewest_b", "pl_fewest_c"]
    made = [placed(name) for name in names]
    assert [tenant.server for tenant in made] == expected
    assert second_server in expected
    assert tenants_per_server() == counts
    for alias in ("default", second_server):
        wanted = {name for name, chosen in zip(names, expected, strict=True) if chosen == alias}
        assert schemas_on(alias, *names) == wanted


def choose_last(tenant: Any, candidates: Any) -> str:
    """A policy of the test's own: always the last candidate."""
    return str(candidates[-1])


def test_a_policy_of_your_own_chooses(placed: TenantFactory, second_server: str) -> None:
    config = {
        **_config(),
        "PLACEMENT_POLICY": "tests.backends.test_placement.choose_last",
    }
    with override_settings(OMNITENANT_CONFIG=config):
        tenant = placed("pl_policy")
    assert tenant.server == second_server
    assert schemas_on(second_server, "pl_policy") == {"pl_policy"}


def test_placement_servers_limits_the_policy(placed: TenantFactory) -> None:
    config = {**_config(), "PLACEMENT_SERVERS": ["default"]}
    with override_settings(OMNITENANT_CONFIG=config):
        made = [placed(f"pl_listed_{index}") for index in range(2)]
    assert [tenant.server for tenant in made] == ["default", "default"]


def _config() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.OMNITENANT_CONFIG)


def test_createtenant_server_puts_the_schema_on_that_server(
    second_server: str, tenant_factory: TenantFactory
) -> None:
    out = _call("createtenant", "--tenant-id", "pl_cmd", "--server", second_server, "--noinput")
    tenant = Tenant.objects.get(tenant_id="pl_cmd")
    try:
        assert f"on server '{second_server}'" in out
        assert tenant.server == second_server
        assert schemas_on(second_server, "pl_cmd") == {"pl_cmd"}
        assert schemas_on("default", "pl_cmd") == set()
        with TenantContext.use_tenant(tenant):
            Note.objects.create(text="on the second server")
        with connections[second_server].cursor() as cursor:
            cursor.execute('SELECT text FROM "pl_cmd".tenantapp_note')
            assert cursor.fetchall() == [("on the second server",)]
    finally:
        provisioning.purge_tenant(tenant, require_mark=False)
    assert schemas_on(second_server, "pl_cmd") == set()


def _call(*argv: str) -> str:
    import io

    out = io.StringIO()
    call_command(*argv, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_an_unknown_server_is_refused_before_anything_is_made(second_server: str) -> None:
    with pytest.raises(CommandError) as refused:
        _call("createtenant", "--tenant-id", "pl_nowhere", "--server", "nowhere", "--noinput")
    assert refused.value.returncode == 2
    assert "'nowhere' is not a server for schema tenants" in str(refused.value)
    assert "default, second" in str(refused.value)
    with pytest.raises(ValidationError, match="not a server for schema tenants"):
        provisioning.create_tenant("pl_nowhere", server="nowhere")
    assert not Tenant.objects.filter(tenant_id="pl_nowhere").exists()
    assert schemas_on("default", "pl_nowhere") == schemas_on(second_server, "pl_nowhere") == set()


def test_server_is_refused_for_a_database_tenant(second_server: str) -> None:
    with pytest.raises(CommandError) as refused:
        _call(
            "createtenant",
            "--tenant-id",
            "pl_dbtenant",
            "--isolation-type",
            "database",
            "--server",
            second_server,
            "--noinput",
        )
    assert refused.value.returncode == 2
    assert "--server only apply to schema tenants" in str(refused.value)
    with pytest.raises(ValidationError, match="apply to schema tenants only"):
        provisioning.create_tenant("pl_dbtenant", isolation_type="database", server=second_server)
    assert not Tenant.objects.filter(tenant_id="pl_dbtenant").exists()


def set_server_by_hand(tenant: Any, server: str) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            f"UPDATE {Tenant._meta.db_table} SET server = %s WHERE id = %s",  # noqa: S608
            [server, tenant.pk],
        )
    tenant.refresh_from_db()


def test_a_tenant_naming_a_server_that_is_gone_fails_closed(placed: TenantFactory) -> None:
    tenant = placed("pl_gone")
    # The server is a storage name (only movetenant changes it): edited by hand here.
    set_server_by_hand(tenant, "retired")
    with TenantContext.use_tenant(tenant), pytest.raises(UnknownServer, match="'retired'"):
        list(Note.objects.all())
    set_server_by_hand(tenant, "")
    assert tenant_server(tenant) == "default"


@pytest.fixture
def two_tenants(placed: TenantFactory, second_server: str) -> list[Any]:
    """One tenant on each server, each with a note and a domain of its own."""
    made = [
        placed("pl_on_master", server="default", domains=["pl-master.example.test"]),
        placed("pl_on_second", server=second_server, domains=["pl-second.example.test"]),
    ]
    for tenant in made:
        with TenantContext.use_tenant(tenant):
            Note.objects.create(text=tenant.tenant_id)
    return made


def test_requests_reach_each_tenant_on_its_server_under_threads(
    two_tenants: list[Any], second_server: str
) -> None:
    hosts = {"pl-master.example.test": "pl_on_master", "pl-second.example.test": "pl_on_second"}
    wrong: list[str] = []
    errors: list[BaseException] = []
    answered = [0]
    lock = threading.Lock()

    def client(number: int) -> None:
        try:
            browser = Client()
            for request in range(20):
                host = list(hosts)[(number + request) % 2]
                response = browser.get("/notes/", HTTP_HOST=host)
                notes = response.json()["notes"] if response.status_code == 200 else response
                with lock:
                    answered[0] += 1
                    if notes != [hosts[host]]:
                        wrong.append(f"{host}: {notes}")
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert answered[0] == 80
    assert wrong == []


def test_master_models_stay_on_the_master_inside_a_placed_tenant(
    two_tenants: list[Any], second_server: str
) -> None:
    on_second = two_tenants[1]
    with TenantContext.use_tenant(on_second):
        assert Tenant.objects.get(tenant_id="pl_on_second").server == second_server
        assert Domain.objects.filter(tenant__tenant_id="pl_on_second").count() == 1
        assert list(Note.objects.values_list("text", flat=True)) == ["pl_on_second"]
    with connections[second_server].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
        assert cursor.fetchone() == (0,)  # the second server's shared schema holds nothing


def write_and_fail() -> None:
    with transaction.atomic():
        Note.objects.create(text="rolled back")
        raise RuntimeError("roll back")


def test_atomic_covers_the_placed_tenants_server(two_tenants: list[Any]) -> None:
    on_second = two_tenants[1]
    with TenantContext.use_tenant(on_second):
        with pytest.raises(RuntimeError, match="roll back"):
            write_and_fail()
        assert list(Note.objects.values_list("text", flat=True)) == ["pl_on_second"]


def test_a_server_that_is_down_fails_closed_and_makes_nothing(
    two_tenants: list[Any], second_cluster: Any, second_server: str
) -> None:
    connections[second_server].close()
    second_cluster.pause()
    try:
        response = Client(raise_request_exception=False).get(
            "/notes/", HTTP_HOST="pl-second.example.test"
        )
        assert response.status_code == 500
        # The tenant on the master is served as before.
        ok = Client().get("/notes/", HTTP_HOST="pl-master.example.test")
        assert ok.json() == {"notes": ["pl_on_master"]}
        with pytest.raises(ProvisioningError, match="pl_while_down"):
            provisioning.create_tenant("pl_while_down", server=second_server)
        assert not Tenant.objects.filter(tenant_id="pl_while_down").exists()
    finally:
        connections[second_server].close()
        second_cluster.resume()
    assert schemas_on(second_server, "pl_while_down") == set()
    assert server_of(two_tenants[1]) == second_server
