"""Database tenants: the fleet executor per database, in parallel across servers with a
limit per server; compared with Django's ``migrate`` on real PostgreSQL databases."""

from __future__ import annotations

import itertools
import multiprocessing
import time
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from django_omnitenant.management._servers import run_per_server, server_key
from django_omnitenant.management.commands.migratealltenants import _migrators
from tests.django.test_fleet_executor import (
    compare_forwards_and_back,
    migration_rows,
    only,
    postgres_catalog,
    query,
    release,
    run,
    signalled,  # noqa: F401 - a fixture
)


def _hold(argument: tuple[str, float]) -> tuple[str, float, float]:
    server, seconds = argument
    started = time.monotonic()
    time.sleep(seconds)
    return server, started, time.monotonic()


def test_no_server_gets_more_than_its_limit_and_servers_run_side_by_side() -> None:
    tasks = [(server, (server, 0.3)) for server in "aaaabbbbcc"]
    context = multiprocessing.get_context("fork")
    started = time.monotonic()
    with context.Pool(processes=3) as pool:
        spans = list(run_per_server(pool, _hold, tasks, jobs=3, per_server=1))
    elapsed = time.monotonic() - started
    assert sorted(server for server, _, _ in spans) == sorted("aaaabbbbcc")
    for server in "abc":
        own = sorted((start, end) for s, start, end in spans if s == server)
        # One at a time on each server: every run starts after the one before ended.
        assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(own))
    # Three servers in parallel: about 4 x 0.3 s (server a's queue), not 10 x 0.3 s.
    assert elapsed < 10 * 0.3


def test_jobs_bound_the_whole_run_when_no_server_limit_is_set() -> None:
    tasks = [("one", ("one", 0.2)) for _ in range(4)]
    context = multiprocessing.get_context("fork")
    with context.Pool(processes=2) as pool:
        spans = list(run_per_server(pool, _hold, tasks, jobs=2, per_server=None))
    starts = sorted(start for _, start, _ in spans)
    ends = sorted(end for _, _, end in spans)
    # Never more than two at once: the third starts after the first ended.
    assert starts[2] >= ends[0]


def pg_config(name: str, host: str) -> dict[str, Any]:
    master = settings.DATABASES["default"]
    return {
        "ENGINE": "django.db.backends.postgresql",
        # Named after this run's test database: concurrent runs never share it.
        "NAME": f"{connections['default'].settings_dict['NAME']}_{name}",
        "HOST": host,
        "PORT": master.get("PORT") or "",
        "USER": master["USER"],
    }


@pytest.mark.postgres
def test_postgres_database_tenants_match_djangos_migrate(
    tenant_factory: Any,
    signalled: list[str],  # noqa: F811 - the fixture
) -> None:
    tenants = [
        tenant_factory(f"fs_pg_{n}", "database", database_config=pg_config(f"fs_pg_{n}", host))
        for n, host in enumerate(["127.0.0.1", "localhost", "127.0.0.1"])
    ]
    with release():
        compare_forwards_and_back(tenants[:2], tenants[2], postgres_catalog, signalled)


@pytest.mark.postgres
def test_tenants_on_several_servers_migrate_in_parallel_within_the_limit(
    tenant_factory: Any,
) -> None:
    # One PostgreSQL server under two names is two servers to the scheduler; the SQLite
    # files are a third.
    tenants = [
        tenant_factory(f"fs_srv_{n}", "database", database_config=pg_config(f"fs_srv_{n}", host))
        for n, host in enumerate(["127.0.0.1", "127.0.0.1", "localhost", "localhost"])
    ]
    tenants += [tenant_factory(f"fs_lite_{n}", "database") for n in range(2)]
    tenants.append(tenant_factory("fs_schema"))
    keys = {tenant.tenant_id: server_key(tenant) for tenant in tenants}
    assert keys["fs_srv_0"] == keys["fs_srv_1"] != keys["fs_srv_2"] == keys["fs_srv_3"]
    assert keys["fs_lite_0"] == keys["fs_lite_1"] == "sqlite"
    with release():
        out = run("--jobs", "3", "--jobs-per-server", "1", *only(*tenants))
        assert "migrated           7" in out
        for tenant in tenants:
            assert ("tenantapp", "0004_view") in migration_rows(tenant), tenant.tenant_id
        out = run("--jobs", "2", "tenantapp", "0001", *only(*tenants))
        assert "migrated           7" in out
        for tenant in tenants:
            assert ("tenantapp", "0002_stock") not in migration_rows(tenant), tenant.tenant_id


@pytest.mark.postgres
def test_a_failing_database_tenant_is_rolled_back_and_the_others_migrate(
    tenant_factory: Any,
) -> None:
    tenants = [
        tenant_factory(f"fs_fail_{n}", "database", database_config=pg_config(f"fs_fail_{n}", h))
        for n, h in enumerate(["127.0.0.1", "localhost", "127.0.0.1"])
    ]
    broken = tenants[1]
    query(broken, "CREATE TABLE tenantapp_stock (id int)")
    with release():
        with pytest.raises(CommandError, match="1 of 3 tenants were not migrated: fs_fail_1"):
            run("--jobs", "2", *only(*tenants))
        # The parent prepared the plan before forking; the workers migrated the tenants.
        (migrator,) = _migrators.values()
        assert [plan.tenants for plan in migrator.prepared_plans] == [0]
        for tenant in tenants:
            rows = [r for r in migration_rows(tenant) if r[0] == "tenantapp"]
            if tenant is broken:
                # 0002 is atomic: nothing of it, nothing after it.
                assert rows == [("tenantapp", "0001_initial")]
                assert query(tenant, "SELECT to_regclass('stock_quantity_idx')") == [(None,)]
            else:
                assert ("tenantapp", "0004_view") in rows, tenant.tenant_id


def test_a_server_limit_below_one_is_a_usage_error() -> None:
    with pytest.raises(CommandError, match="--jobs-per-server must be at least 1"):
        call_command("migratealltenants", jobs_per_server=0)
