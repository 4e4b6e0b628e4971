"""Schema tenants placed on two real PostgreSQL servers (issue 17, placement).

The second server is a cluster of the run's own (``second_cluster``), added to
``DATABASES`` as ``"second"`` for each test (``second_server``). Every check reads the
servers themselves: which database holds the schema, which rows a tenant sees.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from omnitenant_backends.pool import fill_pool, pool_schemas
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


def test_without_placement_servers_new_tenants_stay_on_the_master(
    placed: TenantFactory, second_server: str
) -> None:
    # An alias on the engine may be a replica or a second way to the master: adding one
    # to DATABASES must not move where new tenants go.
    made = [placed(f"pl_default_{index}") for index in range(2)]
    assert [tenant.server for tenant in made] == ["default", "default"]
    assert schemas_on(second_server, "pl_default_0", "pl_default_1") == set()


@pytest.fixture
def both_listed(second_server: str) -> Iterator[None]:
    """``PLACEMENT_SERVERS`` naming the master and the second server."""
    with override_settings(
        OMNITENANT_CONFIG={**_config(), "PLACEMENT_SERVERS": ["default", second_server]}
    ):
        yield


@pytest.mark.usefixtures("both_listed")
def test_fewest_places_each_new_tenant_on_the_emptier_server(
    placed: TenantFactory, second_server: str
) -> None:
    # Other tests' tenants may live on the master: even the servers out first.
    counts = tenants_per_server()
    for index in range(counts["default"] - counts[second_server]):
        placed(f"pl_even_{index}", server=second_server, run_migrations=False)
    even = tenants_per_server()["default"]
    first = placed("pl_fewest_a")
    second = placed("pl_fewest_b")
    third = placed("pl_fewest_c")
    # A tie goes to the master (first); then the server with fewer tenants.
    assert [first.server, second.server, third.server] == ["default", second_server, "default"]
    assert tenants_per_server() == {"default": even + 2, second_server: even + 1}
    assert schemas_on(second_server, "pl_fewest_a", "pl_fewest_b", "pl_fewest_c") == {"pl_fewest_b"}
    assert schemas_on("default", "pl_fewest_a", "pl_fewest_b", "pl_fewest_c") == {
        "pl_fewest_a",
        "pl_fewest_c",
    }


def choose_last(tenant: Any, candidates: Any) -> str:
    """A policy of the test's own: always the last candidate."""
    return str(candidates[-1])


def test_a_policy_of_your_own_chooses(placed: TenantFactory, second_server: str) -> None:
    config = {
        **_config(),
        "PLACEMENT_POLICY": "tests.backends.test_placement.choose_last",
        "PLACEMENT_SERVERS": ["default", second_server],
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
    """Edit the tenant's server in its row, as an operator could by hand: the field is a
    storage name that only ``movetenant`` changes."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            f"UPDATE {Tenant._meta.db_table} SET server = %s WHERE id = %s",  # noqa: S608
            [server, tenant.pk],
        )
    tenant.refresh_from_db()


def test_a_tenant_naming_a_server_that_is_gone_fails_closed(placed: TenantFactory) -> None:
    tenant = placed("pl_gone")
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


# -- the fleet across servers -----------------------------------------------------------


def tables_of(alias: str, schema: str) -> set[str]:
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )
        return {str(row[0]) for row in cursor.fetchall()}


def test_migratealltenants_migrates_every_server_with_its_template_and_pool(
    placed: TenantFactory, second_server: str
) -> None:
    made = [
        placed("pl_fleet_m", server="default", run_migrations=False),
        placed("pl_fleet_s1", server=second_server, run_migrations=False),
        placed("pl_fleet_s2", server=second_server, run_migrations=False),
    ]
    assert all(tables_of(server_of(t), t.schema_name) == set() for t in made)
    config = {**_config(), "WARM_POOL_SIZE": 1}
    with override_settings(OMNITENANT_CONFIG=config):
        out = _call(
            "migratealltenants",
            "--format",
            "json",
            "--tenant",
            "pl_fleet_m",
            "--tenant",
            "pl_fleet_s1",
            "--tenant",
            "pl_fleet_s2",
        )
        try:
            lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            results = {line["tenant"]: line["result"] for line in lines if "tenant" in line}
            assert results == dict.fromkeys([t.tenant_id for t in made], "migrated")
            for tenant in made:
                assert "tenantapp_note" in tables_of(server_of(tenant), tenant.schema_name)
            # Each server got its template and its pool schema.
            for alias in ("default", second_server):
                assert "tenantapp_note" in tables_of(alias, "omnitenant_template")
                assert len(pool_schemas(using=alias)) == 1
            # A new tenant on the second server takes that server's pool schema.
            placed("pl_fleet_pooled", server=second_server)
            assert pool_schemas(using=second_server) == []
            assert len(pool_schemas(using="default")) == 1
        finally:
            for alias in ("default", second_server):
                fill_pool(0, using=alias)


def test_migratealltenants_reports_a_server_that_is_down_and_migrates_the_rest(
    placed: TenantFactory, second_cluster: Any, second_server: str
) -> None:
    placed("pl_down_m", server="default", run_migrations=False)
    placed("pl_down_s", server=second_server, run_migrations=False)
    connections[second_server].close()
    second_cluster.pause()
    try:
        with pytest.raises(CommandError, match=r"1 of 2 tenants were not migrated: pl_down_s"):
            _call("migratealltenants", "--tenant", "pl_down_m", "--tenant", "pl_down_s")
    finally:
        connections[second_server].close()
        second_cluster.resume()
    assert "tenantapp_note" in tables_of("default", "pl_down_m")
    assert tables_of(second_server, "pl_down_s") == set()


def test_showtenants_shows_and_filters_by_server(placed: TenantFactory, second_server: str) -> None:
    placed("pl_show_m", server="default")
    placed("pl_show_s", server=second_server)
    placed("pl_show_db", isolation_type="database")
    rows = {row["tenant_id"]: row for row in json.loads(_call("showtenants", "--format", "json"))}
    assert rows["pl_show_m"]["server"] == "default"
    assert rows["pl_show_s"]["server"] == second_server
    assert rows["pl_show_db"]["server"] == ""
    only = json.loads(_call("showtenants", "--format", "json", "--server", second_server))
    assert [row["tenant_id"] for row in only] == ["pl_show_s"]
    assert "server" in _call("showtenants").splitlines()[0]


def test_createtenantsuperuser_and_shell_reach_the_tenant_on_its_server(
    placed: TenantFactory, second_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = placed("pl_tools", server=second_server)
    _call(
        "createtenantsuperuser",
        "--tenant",
        "pl_tools",
        "--username",
        "pl_admin",
        "--email",
        "a@example.test",
        "--noinput",
    )
    with connections[second_server].cursor() as cursor:
        cursor.execute('SELECT username FROM "pl_tools".auth_user')
        assert cursor.fetchall() == [("pl_admin",)]
    code = (
        "from django.contrib.auth.models import User;"
        "print(list(User.objects.values_list('username', flat=True)))"
    )
    _call("shell", "--tenant", "pl_tools", "--command", code, "-v", "0")
    assert capsys.readouterr().out.strip() == "['pl_admin']"
    assert tenant.server == second_server


# -- system checks ------------------------------------------------------------------------


def check_ids(*, databases: bool = False) -> list[str]:
    from django.core import checks

    found = checks.run_checks(tags=["omnitenant"], databases=["default"] if databases else None)
    placement = ("omnitenant.E02", "omnitenant.W02")
    return sorted(str(m.id) for m in found if (m.id or "").startswith(placement))


@contextmanager
def _databases(databases: dict[str, Any]) -> Iterator[None]:
    """``DATABASES`` replaced for the block, new aliases known to the connection handler."""
    from django.conf import settings

    added = [alias for alias in databases if alias not in settings.DATABASES]
    override = override_settings(DATABASES=databases)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # overriding DATABASES: see below
        override.enable()
    handler = connections.settings
    for alias in added:
        handler[alias] = connections.configure_settings(
            {"default": handler["default"], alias: databases[alias]}
        )[alias]
    try:
        yield
    finally:
        for alias in added:
            connections[alias].close()
            del connections[alias]
            del handler[alias]
        override.disable()


def test_checks_refuse_placement_settings_that_cannot_work(second_server: str) -> None:
    assert check_ids() == []
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    from django.conf import settings

    databases = {**settings.DATABASES, "notpg": sqlite}
    config = {
        **_config(),
        "PLACEMENT_SERVERS": ["default", "notpg", "missing"],
        "PLACEMENT_POLICY": "tests.backends.test_placement.no_such_policy",
    }
    with _databases(databases), override_settings(OMNITENANT_CONFIG=config):
        assert check_ids() == ["omnitenant.E020", "omnitenant.E020", "omnitenant.E021"]
        with pytest.raises(Exception, match="'notpg' is not a server"):
            provisioning.create_tenant("pl_check_refused")
    assert not Tenant.objects.filter(tenant_id="pl_check_refused").exists()


def test_database_checks_warn_of_an_unreachable_server_and_refuse_a_lost_one(
    placed: TenantFactory, second_server: str
) -> None:
    from django.conf import settings

    from tests.servers import free_port

    tenant = placed("pl_check_lost", server=second_server)
    assert check_ids(databases=True) == []
    set_server_by_hand(tenant, "retired")
    closed = {**settings.DATABASES[second_server], "PORT": free_port()}
    try:
        with _databases({**settings.DATABASES, "unreachable": closed}):
            assert check_ids(databases=True) == ["omnitenant.E022", "omnitenant.W020"]
    finally:
        set_server_by_hand(tenant, second_server)


def test_a_celery_task_and_the_cache_follow_the_tenant_on_its_server(
    two_tenants: list[Any], second_server: str
) -> None:
    from django.core.cache import cache

    from tests.celery.tasks import write_note

    on_master, on_second = two_tenants
    with TenantContext.use_tenant(on_second):
        # An eager run: the task looks its tenant up again and enters it, as a worker does.
        assert write_note.apply(args=("from a task",)).get()["tenant"] == "pl_on_second"
        cache.set("pl_key", "second's")
    with TenantContext.use_tenant(on_master):
        assert cache.get("pl_key") is None
    with TenantContext.use_tenant(on_second):
        assert cache.get("pl_key") == "second's"
        cache.delete("pl_key")
    with connections[second_server].cursor() as cursor:
        cursor.execute('SELECT text FROM "pl_on_second".tenantapp_note ORDER BY id')
        assert cursor.fetchall() == [("pl_on_second",), ("from a task",)]
