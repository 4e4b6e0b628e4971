"""The tenant-scoped cache, on Django's local-memory, file, Redis and database backends.

Every behavioural test runs against each backend through ``settings.CACHES`` and
``django.core.cache.caches``, exactly as a project switches to the tenant-aware classes.
The Redis runs use the real server of this machine, database 13, with a key prefix unique
to the test, and delete the keys they made; the tests that flush (FLUSHDB) use a private
redis-server of the test run instead, so they never empty another run's keys. The database
runs create a cache table of their own in the PostgreSQL test database and drop it.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
import redis
from asgiref.sync import sync_to_async
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.test import override_settings
from django.utils.module_loading import import_string

import omnitenant_backends.cache as cache_module
from django_omnitenant.backends.cache_backend import CacheTenantBackend
from django_omnitenant.patches.cache import (
    FileBasedCache,
    LocMemCache,
    TenantCacheMixin,
    clear_tenant_cache,
    tenant_cache_aliases,
)
from omnitenant_context import (
    InvalidIdentifier,
    ProvisioningError,
    TenantBackend,
    TenantContext,
)
from tests.servers import running_server
from tests.support import PlainTenant, plain_tenant

T = TypeVar("T")

REDIS_URL = "redis://127.0.0.1:6379/13"
DEFAULT_CACHE = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}

acme = plain_tenant("acme")
globex = plain_tenant("globex")


def _backend_settings(kind: str, run: str, tmp_path: Path) -> dict[str, Any]:
    if kind == "db":
        return {
            "BACKEND": "django_omnitenant.patches.cache.DatabaseCache",
            "LOCATION": run.replace("-", "_"),
        }
    if kind == "locmem":
        return {"BACKEND": "django_omnitenant.patches.cache.LocMemCache", "LOCATION": run}
    if kind == "file":
        return {
            "BACKEND": "django_omnitenant.patches.cache.FileBasedCache",
            "LOCATION": str(tmp_path / "file-cache"),
        }
    return {
        "BACKEND": "django_omnitenant.patches.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": run,
    }


DJANGOS_OWN = {
    "django_omnitenant.patches.cache.LocMemCache": "django.core.cache.backends.locmem.LocMemCache",
    "django_omnitenant.patches.cache.FileBasedCache": (
        "django.core.cache.backends.filebased.FileBasedCache"
    ),
    "django_omnitenant.patches.cache.RedisCache": "django.core.cache.backends.redis.RedisCache",
    "django_omnitenant.patches.cache.DatabaseCache": "django.core.cache.backends.db.DatabaseCache",
}


def djangos_own(cache_settings: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The same storage through Django's own, tenant-unaware backend class."""
    return {**cache_settings, "BACKEND": DJANGOS_OWN[cache_settings["BACKEND"]], **changes}


def _delete_redis_keys(url: str, prefix: str) -> None:
    from django.core.cache.backends.redis import RedisCache as DjangosRedisCache

    client = DjangosRedisCache(url, {})._cache.get_client(write=True)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(
    params=[
        "locmem",
        "file",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("db", marks=pytest.mark.postgres),
    ]
)
def cache_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The ``CACHES`` entry of one tenant-aware backend, on fresh storage."""
    run = f"omnitenant-test-{uuid.uuid4().hex[:12]}"
    entry = _backend_settings(request.param, run, tmp_path)
    if request.param == "db":
        request.getfixturevalue("live_db")
        _create_cache_table(entry["LOCATION"])
    yield entry
    if request.param == "db":
        _drop_cache_table(entry["LOCATION"])
    elif request.param == "redis":
        _delete_redis_keys(REDIS_URL, run)
    elif request.param == "locmem":
        LocMemCache(run, {}).clear()  # no tenant: empties this LocMem store


@pytest.fixture
def cache(cache_settings: dict[str, Any]) -> Iterator[TenantCacheMixin]:
    with override_settings(CACHES={"default": DEFAULT_CACHE, "tenant": cache_settings}):
        tenant_cache = caches["tenant"]
        assert isinstance(tenant_cache, TenantCacheMixin)
        yield tenant_cache


def _create_cache_table(table: str) -> None:
    from django.core.management import call_command

    # The table sits in the master database's shared schema; the router sends the
    # django_cache pseudo-app (MASTER_APPS in tests/settings.py) there, inside tenants too.
    with TenantContext.use_master_db():
        call_command("createcachetable", table, verbosity=0)


def _drop_cache_table(table: str) -> None:
    from django.db import connection
    from psycopg import sql

    with TenantContext.use_master_db(), connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


@pytest.fixture(scope="session")
def private_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server of this test run alone: a Unix socket in the run's temporary folder.

    The global ``clear()`` of the Redis backend is FLUSHDB. On the machine's shared server
    it would empty whatever another test run keeps in that database, so the tests of it
    flush a server nobody else can reach. Stopped (by its pid) at the end of the session.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (Debian: apt-get install redis-server)")
    folder = tmp_path_factory.mktemp("redis")
    socket_path = folder / "redis.sock"
    command = [binary, "--port", "0", "--unixsocket", str(socket_path), "--dir", str(folder)]
    command += ["--save", "", "--appendonly", "no"]
    url = f"unix://{socket_path}"
    with running_server(command, startup_timeout=10, ready=lambda: _redis_answers(url)):
        yield url


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture
def flushable_cache(
    cache_settings: dict[str, Any], request: pytest.FixtureRequest
) -> Iterator[TenantCacheMixin]:
    """Like ``cache``, for the tests that empty the whole cache (on Redis: FLUSHDB)."""
    own_settings = {**cache_settings}
    if own_settings["LOCATION"] == REDIS_URL:
        own_settings["LOCATION"] = request.getfixturevalue("private_redis_url")
    with override_settings(CACHES={"default": DEFAULT_CACHE, "tenant": own_settings}):
        tenant_cache = caches["tenant"]
        assert isinstance(tenant_cache, TenantCacheMixin)
        yield tenant_cache


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, closing the database connection ``sync_to_async`` opened (if any)."""

    async def then_close() -> T:
        try:
            return await main
        finally:
            await sync_to_async(connections.close_all)()

    return asyncio.run(then_close())


def in_tenant(tenant: PlainTenant, action: Callable[[], Any]) -> Any:
    with TenantContext.use_tenant(tenant):
        return action()


# -- isolation of single keys -----------------------------------------------------------


def test_each_tenant_and_the_global_scope_read_their_own_value(cache: TenantCacheMixin) -> None:
    cache.set("greeting", "global")
    in_tenant(acme, lambda: cache.set("greeting", "acme"))
    in_tenant(globex, lambda: cache.set("greeting", "globex"))

    assert cache.get("greeting") == "global"
    assert in_tenant(acme, lambda: cache.get("greeting")) == "acme"
    assert in_tenant(globex, lambda: cache.get("greeting")) == "globex"
    cache.delete("greeting")
    assert in_tenant(acme, lambda: cache.get("greeting")) == "acme"
    assert cache.get("greeting") is None


def test_global_keys_are_reachable_inside_a_tenant_through_use_master_db(
    cache: TenantCacheMixin,
) -> None:
    cache.set("plans", ["free", "pro"])
    with TenantContext.use_tenant(acme):
        assert cache.get("plans") is None
        with TenantContext.use_master_db():
            assert cache.get("plans") == ["free", "pro"]
            cache.set("announcement", "maintenance at 10")
        assert cache.get("announcement") is None
    assert cache.get("announcement") == "maintenance at 10"


def test_global_keys_are_the_keys_of_djangos_own_backend(cache_settings: dict[str, Any]) -> None:
    """A process still on Django's class (same server, prefix) shares the global entries."""
    with override_settings(
        CACHES={
            "default": DEFAULT_CACHE,
            "tenant": cache_settings,
            "plain": djangos_own(cache_settings),
        }
    ):
        tenant_aware, plain = caches["tenant"], caches["plain"]
        assert not isinstance(plain, TenantCacheMixin)
        tenant_aware.set("shared", "from the tenant-aware class")
        in_tenant(acme, lambda: tenant_aware.set("shared", "acme's"))
        assert plain.get("shared") == "from the tenant-aware class"
        plain.set("other", 7)
        assert tenant_aware.get("other") == 7
        assert in_tenant(acme, lambda: tenant_aware.get("other")) is None


def test_bulk_operations_are_scoped(cache: TenantCacheMixin) -> None:
    cache.set_many({"a": "global a", "b": "global b"})
    with TenantContext.use_tenant(acme):
        assert cache.set_many({"a": 1, "b": 2, "c": 3}) == []
        assert cache.get_many(["a", "b", "c", "d"]) == {"a": 1, "b": 2, "c": 3}
    with TenantContext.use_tenant(globex):
        assert cache.get_many(["a", "b", "c"]) == {}
        cache.set_many({"a": "globex a"})
        cache.delete_many(["a", "b", "c"])  # only globex's
        assert cache.get_many(["a"]) == {}
    with TenantContext.use_tenant(acme):
        assert cache.get_many(iter(["a", "b", "c"])) == {"a": 1, "b": 2, "c": 3}
        cache.delete_many(["a", "c"])
        assert cache.get_many(["a", "b", "c"]) == {"b": 2}
    assert cache.get_many(["a", "b", "c"]) == {"a": "global a", "b": "global b"}


def test_incr_and_decr_are_scoped(cache: TenantCacheMixin) -> None:
    cache.set("hits", 100)
    with TenantContext.use_tenant(acme):
        with pytest.raises(ValueError, match="not found"):
            cache.incr("hits")  # the global counter is not acme's
        cache.set("hits", 1)
        assert cache.incr("hits") == 2
        assert cache.incr("hits", 10) == 12
        assert cache.decr("hits", 5) == 7
    with TenantContext.use_tenant(globex):
        cache.set("hits", 0)
        assert cache.decr("hits") == -1
    assert in_tenant(acme, lambda: cache.get("hits")) == 7
    assert cache.incr("hits") == 101


def test_add_touch_has_key_and_get_or_set_are_scoped(cache: TenantCacheMixin) -> None:
    assert cache.add("lock", "global holder") is True
    with TenantContext.use_tenant(acme):
        assert cache.has_key("lock") is False
        assert "lock" not in cache
        assert cache.touch("lock", 60) is False
        assert cache.add("lock", "acme holder") is True
        assert cache.add("lock", "second try") is False
        assert cache.has_key("lock") is True
        assert cache.touch("lock", 60) is True
        assert cache.get_or_set("config", lambda: {"theme": "acme"}) == {"theme": "acme"}
        assert cache.get_or_set("config", {"theme": "other"}) == {"theme": "acme"}
        assert cache.incr_version("config") == 2
        assert cache.get("config", version=2) == {"theme": "acme"}
    with TenantContext.use_tenant(globex):
        assert cache.get_or_set("config", {"theme": "globex"}) == {"theme": "globex"}
        assert cache.get("lock") is None
    assert cache.get("lock") == "global holder"
    assert cache.get("config", version=2) is None


def test_async_methods_are_scoped(cache: TenantCacheMixin) -> None:
    async def scenario() -> dict[str, Any]:
        await cache.aset("k", "global")
        with TenantContext.use_tenant(acme):
            await cache.aset("k", "acme")
            await cache.aset_many({"m1": 1, "m2": 2})
            assert await cache.aadd("added", "yes") is True
            assert await cache.aincr("m1") == 2
            assert await cache.adecr("m2") == 1
            assert await cache.ahas_key("added") is True
            assert await cache.aget_or_set("lazy", "made") == "made"
            acme_view = {
                "k": await cache.aget("k"),
                "many": await cache.aget_many(["m1", "m2", "k"]),
            }
            await cache.adelete_many(["m1"])
            assert await cache.aget_many(["m1", "m2"]) == {"m2": 1}
        with TenantContext.use_tenant(globex):
            assert await cache.aget("k") is None
            assert await cache.aget_many(["m1", "m2", "added"]) == {}
            await cache.aset("k", "globex")
            await cache.aclear()
            assert await cache.aget("k") is None
        with TenantContext.use_tenant(acme):
            assert await cache.aget("lazy") == "made"
        acme_view["global"] = await cache.aget("k")
        return acme_view

    assert run_async(scenario()) == {
        "k": "acme",
        "many": {"m1": 2, "m2": 1, "k": "acme"},
        "global": "global",
    }


# -- clear -------------------------------------------------------------------------------


def test_clear_in_a_tenant_forgets_only_that_tenant(cache: TenantCacheMixin) -> None:
    cache.set("k", "global")
    in_tenant(acme, lambda: cache.set_many({"k": "acme", "other": "acme other"}))
    in_tenant(globex, lambda: cache.set("k", "globex"))

    in_tenant(acme, cache.clear)

    assert in_tenant(acme, lambda: cache.get_many(["k", "other"])) == {}
    assert in_tenant(globex, lambda: cache.get("k")) == "globex"
    assert cache.get("k") == "global"


def test_a_cleared_tenant_can_clear_again_and_write_again(cache: TenantCacheMixin) -> None:
    with TenantContext.use_tenant(acme):
        cache.set("k", "first")
        cache.clear()
        cache.clear()
        assert cache.get("k") is None
        cache.set("k", "second")
        assert cache.add("fresh", 1) is True
        assert cache.get_many(["k", "fresh"]) == {"k": "second", "fresh": 1}
        cache.clear()
        assert cache.get("k") is None
        cache.set("k", "third")
    assert in_tenant(acme, lambda: cache.get("k")) == "third"


def test_clear_without_a_tenant_empties_the_whole_cache(
    flushable_cache: TenantCacheMixin,
) -> None:
    cache = flushable_cache
    cache.set("k", "global")
    in_tenant(acme, lambda: cache.set("k", "acme"))

    cache.clear()

    assert cache.get("k") is None
    assert in_tenant(acme, lambda: cache.get("k")) is None
    in_tenant(acme, lambda: cache.set("k", "acme again"))
    assert in_tenant(acme, lambda: cache.get("k")) == "acme again"


def test_clear_inside_use_master_db_is_the_global_clear(
    flushable_cache: TenantCacheMixin,
) -> None:
    cache = flushable_cache
    in_tenant(globex, lambda: cache.set("k", "globex"))
    with TenantContext.use_tenant(acme), TenantContext.use_master_db():
        cache.clear()
    assert in_tenant(globex, lambda: cache.get("k")) is None


def test_clear_namespace_forgets_a_tenant_from_outside_it(cache: TenantCacheMixin) -> None:
    in_tenant(acme, lambda: cache.set("k", "acme"))
    in_tenant(globex, lambda: cache.set("k", "globex"))
    cache.set("k", "global")

    cache.clear_namespace(acme.cache_namespace)

    assert in_tenant(acme, lambda: cache.get("k")) is None
    assert in_tenant(globex, lambda: cache.get("k")) == "globex"
    assert cache.get("k") == "global"


def test_losing_the_generation_never_brings_old_entries_back(
    cache_settings: dict[str, Any],
) -> None:
    """Evicting the generation key starts the tenant empty, not at an older generation."""
    # Django's own class with KEY_PREFIX + "|" addresses the generation keys: a stand-in
    # for the LRU eviction of one of them.
    generations = djangos_own(cache_settings, KEY_PREFIX=f"{cache_settings.get('KEY_PREFIX', '')}|")
    with override_settings(
        CACHES={"default": DEFAULT_CACHE, "tenant": cache_settings, "generations": generations}
    ):
        cache = caches["tenant"]
        in_tenant(acme, lambda: cache.set("k", "before clear", timeout=None))
        in_tenant(acme, cache.clear)
        in_tenant(acme, lambda: cache.set("k", "after clear", timeout=None))
        if cache_settings["BACKEND"].endswith(".LocMemCache"):
            # LocMem keeps generations beside its entries, out of their reach: nothing
            # that evicts or deletes entries can lose one.
            assert caches["generations"].delete(acme.cache_namespace) is False
            assert in_tenant(acme, lambda: cache.get("k")) == "after clear"
            return
        # Read once first: a reader that knows the generation (Redis remembers the one it
        # read last) must still notice that it is gone.
        assert in_tenant(acme, lambda: cache.get("k")) == "after clear"
        assert caches["generations"].delete(acme.cache_namespace) is True

        assert in_tenant(acme, lambda: cache.get("k")) is None
        assert in_tenant(acme, lambda: cache.get_many(["k"])) == {}
        in_tenant(acme, lambda: cache.set("k", "after eviction"))
        assert in_tenant(acme, lambda: cache.get("k")) == "after eviction"


# -- tenant life cycle ---------------------------------------------------------------------


def test_cache_tenant_backend_delete_with_drop_data_clears_every_tenant_aware_alias(
    cache_settings: dict[str, Any],
) -> None:
    second = {"BACKEND": "omnitenant_backends.cache.LocMemCache", "LOCATION": uuid.uuid4().hex}
    plain = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "plain"}
    with override_settings(CACHES={"default": plain, "tenant": cache_settings, "second": second}):
        assert tenant_cache_aliases() == ["tenant", "second"]
        for alias in ("tenant", "second"):
            in_tenant(acme, partial(caches[alias].set, "k", f"acme {alias}"))
            in_tenant(globex, partial(caches[alias].set, "k", f"globex {alias}"))
            caches[alias].set("k", f"global {alias}")
        in_tenant(acme, lambda: caches["default"].set("plain", "untouched"))

        CacheTenantBackend(acme).delete()  # without drop_data nothing goes
        assert in_tenant(acme, lambda: caches["tenant"].get("k")) == "acme tenant"

        CacheTenantBackend(acme).delete(drop_data=True)

        for alias in ("tenant", "second"):
            assert in_tenant(acme, partial(caches[alias].get, "k")) is None
            assert in_tenant(globex, partial(caches[alias].get, "k")) == f"globex {alias}"
            assert caches[alias].get("k") == f"global {alias}"
        assert caches["default"].get("plain") == "untouched"
        caches["second"].clear()


def test_cache_tenant_backend_limited_to_given_aliases(cache_settings: dict[str, Any]) -> None:
    second = {"BACKEND": "omnitenant_backends.cache.LocMemCache", "LOCATION": uuid.uuid4().hex}
    with override_settings(
        CACHES={"default": DEFAULT_CACHE, "tenant": cache_settings, "second": second}
    ):
        in_tenant(acme, lambda: caches["tenant"].set("k", 1))
        in_tenant(acme, lambda: caches["second"].set("k", 2))
        CacheTenantBackend(acme, aliases=["second"]).delete(drop_data=True)
        assert in_tenant(acme, lambda: caches["tenant"].get("k")) == 1
        assert in_tenant(acme, lambda: caches["second"].get("k")) is None
        caches["second"].clear()


def test_cache_tenant_backend_needs_no_database_to_create_or_migrate() -> None:
    """No database access is allowed here: a query (say, a real migrate) would fail it."""
    local = {"BACKEND": "omnitenant_backends.cache.LocMemCache", "LOCATION": uuid.uuid4().hex}
    with override_settings(CACHES={"default": local}):
        cache = caches["default"]
        backend: TenantBackend = CacheTenantBackend(acme)
        assert isinstance(backend, TenantBackend)
        backend.create(run_migrations=True)
        backend.migrate()
        backend.activate()
        try:
            cache.set("k", "inside activate")
        finally:
            backend.deactivate()
        assert cache.get("k") is None
        assert in_tenant(acme, lambda: cache.get("k")) == "inside activate"
        cache.clear()


def test_clearing_a_cache_that_is_not_tenant_aware_is_refused() -> None:
    with override_settings(CACHES={"default": DEFAULT_CACHE}):
        assert tenant_cache_aliases() == []
        with pytest.raises(ProvisioningError, match="not tenant-aware") as failure:
            clear_tenant_cache(acme, aliases=["default"])
        assert isinstance(failure.value.__cause__, TypeError)


def test_an_unreachable_cache_fails_delete_but_other_aliases_are_still_cleared() -> None:
    down = {"BACKEND": "omnitenant_backends.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    up = {"BACKEND": "omnitenant_backends.cache.LocMemCache", "LOCATION": uuid.uuid4().hex}
    with override_settings(CACHES={"default": DEFAULT_CACHE, "down": down, "up": up}):
        in_tenant(acme, lambda: caches["up"].set("k", "acme"))
        with pytest.raises(ProvisioningError, match="'down'"):
            CacheTenantBackend(acme).delete(drop_data=True)
        assert in_tenant(acme, lambda: caches["up"].get("k")) is None


# -- concurrency ----------------------------------------------------------------------------


def test_threads_in_different_tenants_on_one_cache_object_do_not_mix(
    cache: TenantCacheMixin,
) -> None:
    tenants = [plain_tenant(f"thread_{n}") for n in range(6)]
    start = threading.Barrier(len(tenants))

    def work(tenant: PlainTenant) -> set[str]:
        seen: set[str] = set()
        start.wait()
        try:
            with TenantContext.use_tenant(tenant):
                for round_ in range(40):
                    cache.set("shared-name", (tenant.tenant_id, round_))
                    owner, _ = cache.get("shared-name")
                    seen.add(owner)
                    cache.set_many({"a": tenant.tenant_id, "b": round_})
                    seen.add(cache.get_many(["a"])["a"])
                    if round_ % 10 == 9:
                        cache.clear()
        finally:
            connections.close_all()  # the DatabaseCache's connection of this thread
        return seen

    with ThreadPoolExecutor(max_workers=len(tenants)) as pool:
        results = list(pool.map(work, tenants))

    assert results == [{tenant.tenant_id} for tenant in tenants]


def test_asyncio_tasks_in_different_tenants_on_one_cache_object_do_not_mix(
    cache: TenantCacheMixin,
) -> None:
    tenants = [plain_tenant(f"task_{n}") for n in range(5)]

    async def work(tenant: PlainTenant) -> set[str]:
        seen: set[str] = set()
        with TenantContext.use_tenant(tenant):
            for round_ in range(10):
                await cache.aset("shared-name", tenant.tenant_id)
                await asyncio.sleep(0)  # let the other tenants' tasks run in between
                seen.add(await cache.aget("shared-name"))
                seen.update((await cache.aget_many(["shared-name"])).values())
                if round_ == 5:
                    await cache.aclear()
        return seen

    async def all_tasks() -> list[set[str]]:
        return list(await asyncio.gather(*(work(tenant) for tenant in tenants)))

    assert run_async(all_tasks()) == [{tenant.tenant_id} for tenant in tenants]


def test_concurrent_first_use_agrees_on_one_generation(cache_settings: dict[str, Any]) -> None:
    """Two processes start a tenant at once: the one that loses the race adopts the winner's."""
    if cache_settings["BACKEND"].endswith((".RedisCache", ".LocMemCache")):
        _first_use_in_many_threads_agrees(cache_settings)
        return
    with override_settings(CACHES={"default": DEFAULT_CACHE, "tenant": cache_settings}):
        first = caches["tenant"]

        def other_process() -> BaseCache:
            holder: list[BaseCache] = []
            thread = threading.Thread(target=lambda: holder.append(caches["tenant"]))
            thread.start()
            thread.join()
            return holder[0]  # caches[...] gives each thread an object of its own

        second = other_process()
        assert second is not first
        real_add = second.add

        def add_after_the_other_process(key: Any, *args: Any, **kwargs: Any) -> bool:
            # Between second's read of the (missing) generation and its add(), first
            # creates the generation and writes with it.
            in_tenant(acme, lambda: first.set("k", "written by the winner"))
            return real_add(key, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(second, "add", add_after_the_other_process)
            assert in_tenant(acme, lambda: second.get("k")) == "written by the winner"
        in_tenant(acme, lambda: second.set("k", "written by the loser"))
        assert in_tenant(acme, lambda: first.get("k")) == "written by the loser"


def _first_use_in_many_threads_agrees(cache_settings: dict[str, Any]) -> None:
    # Redis reads or creates the generation inside the script of each operation, LocMem in
    # one dictionary operation: there is no gap to interleave in, so race many threads
    # (each with a cache object of its own) through their first use instead.
    with override_settings(CACHES={"default": DEFAULT_CACHE, "tenant": cache_settings}):
        start = threading.Barrier(8)

        def first_use(index: int) -> None:
            start.wait(10)
            in_tenant(acme, lambda: caches["tenant"].set(f"k{index}", index))

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(first_use, range(8)))
        found = in_tenant(acme, lambda: caches["tenant"].get_many([f"k{i}" for i in range(8)]))
        assert found == {f"k{i}": i for i in range(8)}


# -- the generation memo -------------------------------------------------------------------


def test_without_memo_a_clear_by_another_cache_object_is_seen_at_once() -> None:
    location = uuid.uuid4().hex
    one, two = LocMemCache(location, {}), LocMemCache(location, {})
    in_tenant(acme, lambda: one.set("k", "v"))
    assert in_tenant(acme, lambda: two.get("k")) == "v"
    in_tenant(acme, one.clear)
    assert in_tenant(acme, lambda: two.get("k")) is None
    one.clear()


def _another_cache_object(cache_settings: dict[str, Any]) -> TenantCacheMixin:
    """A cache object of its own, as another process (or thread) has: own clients, own memory."""
    params = {name: value for name, value in cache_settings.items() if name != "BACKEND"}
    made = import_string(cache_settings["BACKEND"])(params.pop("LOCATION"), params)
    assert isinstance(made, TenantCacheMixin)
    return made


def test_a_clear_by_another_cache_object_is_seen_by_the_next_read(
    cache_settings: dict[str, Any],
) -> None:
    reader, writer = _another_cache_object(cache_settings), _another_cache_object(cache_settings)
    in_tenant(acme, lambda: writer.set_many({"a": 1, "b": 2}))
    # The reader has read the tenant before (on Redis it remembers that generation).
    assert in_tenant(acme, lambda: reader.get("a")) == 1
    assert in_tenant(acme, lambda: reader.get_many(["a", "b"])) == {"a": 1, "b": 2}

    in_tenant(acme, writer.clear)
    assert in_tenant(acme, lambda: reader.get("a")) is None
    in_tenant(acme, lambda: writer.set("b", "new"))
    assert in_tenant(acme, lambda: reader.get_many(["a", "b"])) == {"b": "new"}

    writer.clear_namespace(acme.cache_namespace)  # from outside the tenant, the same
    assert in_tenant(acme, lambda: reader.get_many(["a", "b"])) == {}
    assert in_tenant(acme, lambda: reader.get("b")) is None
    in_tenant(acme, lambda: reader.set("b", "again"))
    assert in_tenant(acme, lambda: writer.get("b")) == "again"


def test_locmem_sees_a_clear_by_another_cache_object_within_one_scope() -> None:
    # One scope, so one context state all along: the key prefix LocMem remembers for
    # that state must still follow the tenant's generation.
    location = uuid.uuid4().hex
    one, two = LocMemCache(location, {}), LocMemCache(location, {})
    with TenantContext.use_tenant(acme):
        one.set("k", "v")
        assert two.get("k") == "v"
        two.clear()
        assert one.get("k") is None
        one.set("k", "again")
        two.clear_namespace(acme.cache_namespace)
        assert one.get("k") is None
        with TenantContext.use_master_db():
            one.set("k", "global")
        assert one.get("k") is None  # the tenant's key, not the global one
        with TenantContext.use_tenant(globex):
            assert one.get("k") is None
    assert one.get("k") == "global"
    one.clear()


def test_memo_sees_its_own_clear_at_once_and_others_after_the_memo_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    now = [1000.0]
    monkeypatch.setattr(cache_module, "monotonic", lambda: now[0])
    # The memo matters where the generation is read from the cache: file, database,
    # memcached (LocMem and Redis read it at no extra cost and never memoise).
    location = str(tmp_path / "memo-cache")
    memo = {"TENANT_GENERATION_MEMO_SECONDS": 5}
    one, two = FileBasedCache(location, memo), FileBasedCache(location, memo)
    in_tenant(acme, lambda: one.set("k", "v"))
    assert in_tenant(acme, lambda: two.get("k")) == "v"

    in_tenant(acme, one.clear)
    assert in_tenant(acme, lambda: one.get("k")) is None
    assert in_tenant(acme, lambda: two.get("k")) == "v"  # the documented staleness
    now[0] += 5.5
    assert in_tenant(acme, lambda: two.get("k")) is None
    one.clear()


@pytest.mark.parametrize("memo", [-1, "5", True, None])
def test_a_bad_memo_setting_is_refused(memo: object) -> None:
    with pytest.raises(ImproperlyConfigured, match="TENANT_GENERATION_MEMO_SECONDS"):
        LocMemCache("bad-memo", {"TENANT_GENERATION_MEMO_SECONDS": memo})


def test_a_key_function_that_drops_the_prefix_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="KEY_FUNCTION"):
        LocMemCache("bad-key-func", {"KEY_FUNCTION": lambda key, prefix, version: f"{key}"})


# -- hostile keys and namespaces -------------------------------------------------------------

HOSTILE_KEYS = [
    "x",
    "b:x",
    "a:b:x",
    ":1:x",
    "1:x",
    "|a|1:1:x",
    "|:1:a",
    "a",
    "a|b",
    "k" * 179 + "1",  # long, yet within the 250 characters memcached allows
    "k" * 179 + "2",
]
HOSTILE_TENANTS = [plain_tenant(name) for name in ("a", "a_b", "ab", "b", "b_x", "a1")]


def test_hostile_keys_never_collide_across_scopes(cache: TenantCacheMixin) -> None:
    scopes: list[PlainTenant | None] = [None, *HOSTILE_TENANTS]

    def scope_name(tenant: PlainTenant | None) -> str:
        return "global" if tenant is None else tenant.tenant_id

    def in_scope(tenant: PlainTenant | None, action: Callable[[], Any]) -> Any:
        return action() if tenant is None else in_tenant(tenant, action)

    for tenant in scopes:
        in_scope(
            tenant, partial(cache.set_many, {k: (scope_name(tenant), k) for k in HOSTILE_KEYS})
        )
    made_keys = [in_scope(t, lambda: [cache.make_key(k) for k in HOSTILE_KEYS]) for t in scopes]

    assert len({key for keys in made_keys for key in keys}) == len(scopes) * len(HOSTILE_KEYS)
    for tenant in scopes:
        read = in_scope(tenant, lambda: {k: cache.get(k) for k in HOSTILE_KEYS})
        assert read == {k: (scope_name(tenant), k) for k in HOSTILE_KEYS}


def test_a_global_key_named_like_a_namespace_does_not_touch_the_tenant(
    cache: TenantCacheMixin,
) -> None:
    cache.set("acme", 123456)
    in_tenant(acme, lambda: cache.set("k", "acme"))
    in_tenant(acme, cache.clear)
    assert cache.get("acme") == 123456
    in_tenant(acme, lambda: cache.set("k", "acme again"))
    cache.set("acme", 654321)  # overwriting the global key keeps acme's entries
    assert in_tenant(acme, lambda: cache.get("k")) == "acme again"


@pytest.mark.parametrize("namespace", ["a|b", "a:b", "", "a b", "a\nb", "ü", "x" * 101])
def test_an_unusable_namespace_is_refused_before_anything_is_written(
    cache: TenantCacheMixin, namespace: str
) -> None:
    hostile = PlainTenant(tenant_id="hostile", cache_namespace=namespace)
    with TenantContext.use_tenant(hostile):
        with pytest.raises(InvalidIdentifier, match="cache namespace"):
            cache.set("k", "leaked")
        with pytest.raises(InvalidIdentifier, match="cache namespace"):
            cache.get_many(["k"])
        with pytest.raises(InvalidIdentifier, match="cache namespace"):
            cache.clear()
    assert cache.get("k") is None  # nothing fell back to the global scope
    with pytest.raises(InvalidIdentifier):
        CacheTenantBackend(hostile)


# -- round trips -----------------------------------------------------------------------------


class _CountingConnection(redis.Connection):
    """A redis-py connection that counts the requests it sends (one per round trip)."""

    sent: ClassVar[list[bytes]] = []

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        packed = command if isinstance(command, bytes | str) else b"".join(command)
        type(self).sent.append(packed if isinstance(packed, bytes) else packed.encode())
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]  # redis-py is untyped here


@pytest.mark.redis
def test_redis_operations_in_a_tenant_cost_one_round_trip_as_djangos_do() -> None:
    run = f"omnitenant-test-{uuid.uuid4().hex[:12]}"
    entry = {
        "BACKEND": "django_omnitenant.patches.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": run,
        "OPTIONS": {"connection_class": _CountingConnection},
    }
    try:
        with override_settings(CACHES={"default": DEFAULT_CACHE, "tenant": entry}):
            cache = caches["tenant"]
            in_tenant(acme, lambda: cache.set("warm", 1))  # loads the scripts once
            in_tenant(acme, lambda: cache.get("warm"))
            operations: list[Callable[[], Any]] = [
                lambda: cache.get("k"),
                lambda: cache.set("k", "v", timeout=30),
                lambda: cache.get("k"),
                lambda: cache.has_key("k"),
                lambda: cache.get_many(["k", "warm", "missing"]),
                lambda: cache.add("k", "other"),
                lambda: cache.delete("k"),
                lambda: cache.add("k", "again", timeout=None),
            ]
            for operation in operations:
                _CountingConnection.sent.clear()
                in_tenant(acme, operation)
                assert len(_CountingConnection.sent) == 1, _CountingConnection.sent
            assert in_tenant(acme, lambda: cache.get("k")) == "again"
            assert in_tenant(globex, lambda: cache.get("k")) is None
            in_tenant(acme, cache.clear)
            assert in_tenant(acme, lambda: cache.get("k")) is None
    finally:
        _delete_redis_keys(REDIS_URL, run)


@pytest.mark.redis
def test_redis_reads_are_one_mget_and_a_clear_elsewhere_costs_one_more_round_trip() -> None:
    run = f"omnitenant-test-{uuid.uuid4().hex[:12]}"
    entry = {
        "BACKEND": "django_omnitenant.patches.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": run,
        "OPTIONS": {"connection_class": _CountingConnection},
    }

    def sent_by(operation: Callable[[], Any]) -> tuple[Any, list[bytes]]:
        _CountingConnection.sent.clear()
        result = in_tenant(acme, operation)
        return result, [command.split(b"\r\n")[2].upper() for command in _CountingConnection.sent]

    try:
        reader, writer = _another_cache_object(entry), _another_cache_object(entry)
        in_tenant(acme, lambda: writer.set_many({"a": 1, "b": 2}))
        in_tenant(acme, lambda: reader.get("a"))  # connects, loads the script
        # Knowing the generation, a read is a plain MGET: no script on the server.
        assert sent_by(lambda: reader.get("a")) == (1, [b"MGET"])
        assert sent_by(lambda: reader.get_many(["a", "b", "c"])) == ({"a": 1, "b": 2}, [b"MGET"])
        assert sent_by(lambda: reader.get("missing")) == (None, [b"MGET"])
        # Another object (another process) clears: the next read finds the generation
        # changed in its MGET and reads again with the script; the one after is an MGET.
        in_tenant(acme, writer.clear)
        in_tenant(acme, lambda: writer.set("a", "new"))
        assert sent_by(lambda: reader.get("a")) == ("new", [b"MGET", b"EVALSHA"])
        assert sent_by(lambda: reader.get("a")) == ("new", [b"MGET"])
        # This object's own clear: its next read goes straight to the script.
        in_tenant(acme, reader.clear)
        assert sent_by(lambda: reader.get_many(["a"])) == ({}, [b"EVALSHA"])
        in_tenant(acme, lambda: writer.set("a", "newer"))
        assert sent_by(lambda: reader.get_many(["a"])) == ({"a": "newer"}, [b"MGET"])
        # A lost generation (evicted): the MGET shows it missing, so nothing is found,
        # in that one round trip.
        generation_key = f"{run}|:1:{acme.cache_namespace}"
        evictor = redis.Redis.from_url(REDIS_URL)
        assert evictor.delete(generation_key) == 1
        evictor.close()
        assert sent_by(lambda: reader.get("a")) == (None, [b"MGET"])
    finally:
        _delete_redis_keys(REDIS_URL, run)


@pytest.mark.redis
def test_redis_keeps_one_client_per_server_and_reads_from_the_replicas() -> None:
    # Django's topology: writes to the first LOCATION, reads from the others. The same
    # server twice stands in for a primary and its replica.
    run = f"omnitenant-test-{uuid.uuid4().hex[:12]}"
    entry = {
        "BACKEND": "django_omnitenant.patches.cache.RedisCache",
        "LOCATION": f"{REDIS_URL},{REDIS_URL}",
        "KEY_PREFIX": run,
    }
    try:
        cache = _another_cache_object(entry)
        in_tenant(acme, lambda: cache.set("k", "acme"))
        cache.set("k", "global")
        assert in_tenant(acme, lambda: cache.get_many(["k"])) == {"k": "acme"}
        assert cache.get("k") == "global"

        client_of = cache._cache.get_client  # type: ignore[attr-defined]  # Django's, private
        primary, replica = client_of(write=True), client_of(write=False)
        assert primary is client_of(write=True)
        assert replica is client_of(write=False)
        assert primary.connection_pool is not replica.connection_pool
    finally:
        _delete_redis_keys(REDIS_URL, run)


@pytest.mark.redis
def test_redis_scripts_are_loaded_again_after_the_server_forgot_them(
    private_redis_url: str,
) -> None:
    # SCRIPT FLUSH (or a restart) empties the server's script cache: the next EVALSHA
    # fails with NOSCRIPT and the script is loaded again. A private server: the flush
    # would make every other client of the shared one load its scripts again.
    cache = _another_cache_object(
        {"BACKEND": "django_omnitenant.patches.cache.RedisCache", "LOCATION": private_redis_url}
    )
    in_tenant(acme, lambda: cache.set("k", "v"))
    assert in_tenant(acme, lambda: cache.has_key("k")) is True
    server = redis.Redis.from_url(private_redis_url)
    try:
        server.script_flush()
        assert in_tenant(acme, lambda: cache.has_key("k")) is True
        in_tenant(acme, lambda: cache.set("k", "again"))
        in_tenant(acme, cache.clear)  # the next read must go to the read script
        in_tenant(acme, lambda: cache.set("k", "after clear"))
        server.script_flush()
        assert in_tenant(acme, lambda: cache.get_many(["k"])) == {"k": "after clear"}
    finally:
        server.flushdb()
        server.close()


@pytest.mark.redis
def test_redis_counters_touch_and_bulk_writes_in_a_tenant_cost_one_round_trip() -> None:
    run = f"omnitenant-test-{uuid.uuid4().hex[:12]}"
    entry = {
        "BACKEND": "django_omnitenant.patches.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": run,
        "OPTIONS": {"connection_class": _CountingConnection},
    }

    def one_round_trip(tenant: PlainTenant, operation: Callable[[], Any]) -> Any:
        _CountingConnection.sent.clear()
        result = in_tenant(tenant, operation)
        assert len(_CountingConnection.sent) == 1, _CountingConnection.sent
        return result

    try:
        with override_settings(CACHES={"default": DEFAULT_CACHE, "tenant": entry}):
            cache = caches["tenant"]
            warm = plain_tenant("warm")  # connects and loads each script once
            in_tenant(warm, lambda: cache.set_many({"n": 1}))
            in_tenant(warm, lambda: cache.incr("n"))
            in_tenant(warm, lambda: cache.touch("n"))
            in_tenant(warm, lambda: cache.delete_many(["n"]))
            # A new tenant: its first bulk write also makes its generation.
            one_round_trip(acme, lambda: cache.set_many({"hits": 1, "name": "acme"}, timeout=30))
            assert one_round_trip(acme, lambda: cache.incr("hits")) == 2
            assert one_round_trip(acme, lambda: cache.incr("hits", 10)) == 12
            assert one_round_trip(acme, lambda: cache.decr("hits", 5)) == 7
            assert one_round_trip(acme, lambda: cache.touch("name", None)) is True
            assert one_round_trip(acme, lambda: cache.touch("name", 60)) is True
            assert one_round_trip(acme, lambda: cache.touch("missing", 60)) is False
            with pytest.raises(ValueError, match="missing"):
                one_round_trip(acme, lambda: cache.incr("missing"))
            # Another tenant sees none of it, and its own counter is its own.
            with pytest.raises(ValueError, match="hits"):
                in_tenant(globex, lambda: cache.incr("hits"))
            in_tenant(globex, lambda: cache.set("hits", 100))
            assert in_tenant(acme, lambda: cache.get_many(["hits", "name"])) == {
                "hits": 7,
                "name": "acme",
            }
            one_round_trip(acme, lambda: cache.delete_many(["hits", "name", "missing"]))
            assert in_tenant(acme, lambda: cache.get_many(["hits", "name"])) == {}
            assert in_tenant(globex, lambda: cache.get("hits")) == 100
            # A timeout of 0 deletes, as in Django's set_many().
            in_tenant(acme, lambda: cache.set("gone", 1))
            one_round_trip(acme, lambda: cache.set_many({"gone": 2}, timeout=0))
            assert in_tenant(acme, lambda: cache.get("gone")) is None
            # The O(1) clear still forgets counters, and a tenant with no generation yet
            # refuses incr() as Django refuses a missing key.
            in_tenant(acme, lambda: cache.set("hits", 1))
            in_tenant(acme, cache.clear)
            with pytest.raises(ValueError, match="hits"):
                one_round_trip(acme, lambda: cache.incr("hits"))
            fresh = plain_tenant("fresh")
            with pytest.raises(ValueError, match="hits"):
                one_round_trip(fresh, lambda: cache.incr("hits"))
            assert one_round_trip(fresh, lambda: cache.touch("hits", 5)) is False
            one_round_trip(fresh, lambda: cache.delete_many(["hits"]))
            # Global keys (no tenant) are Django's own calls.
            cache.set("global", 1)
            assert cache.incr("global") == 2
            assert cache.get("global") == 2
    finally:
        _delete_redis_keys(REDIS_URL, run)
