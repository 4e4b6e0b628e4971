"""The cached tenant lookup: hits without the store, TTLs, LRU bound, invalidation."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from omnitenant_resolvers import CachedTenantStore
from tests.resolvers.test_resolvers import DictStore
from tests.support import PlainTenant, plain_tenant

ACME = plain_tenant("acme")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counter:
    """A shared version, as the Django cache provides across processes."""

    def __init__(self) -> None:
        self.value = 0
        self.reads = 0

    def get_version(self) -> object:
        self.reads += 1
        return self.value

    def bump(self) -> None:
        self.value += 1


def make(**kwargs: object) -> tuple[CachedTenantStore, DictStore, Clock]:
    backing = DictStore(by_id={"acme": ACME}, by_domain={"acme.test": ACME})
    clock = Clock()
    return CachedTenantStore(backing, clock=clock, **kwargs), backing, clock  # type: ignore[arg-type]  # kwargs are the store's options


def test_warm_lookups_do_not_reach_the_store() -> None:
    store, backing, _ = make()
    for _ in range(100):
        assert store.get_by_domain("acme.test") is ACME
        assert store.get_by_id("acme") is ACME
    assert backing.calls == ["domain:acme.test", "id:acme"]
    assert (store.hits, store.misses) == (198, 2)


def test_found_entries_expire_after_ttl_and_unknown_ones_sooner() -> None:
    store, backing, clock = make(ttl=60, negative_ttl=5)
    store.get_by_domain("acme.test")
    assert store.get_by_domain("nobody.test") is None
    clock.now += 6
    store.get_by_domain("acme.test")
    store.get_by_domain("nobody.test")
    assert backing.calls == ["domain:acme.test", "domain:nobody.test", "domain:nobody.test"]
    clock.now += 60
    store.get_by_domain("acme.test")
    assert backing.calls[-1] == "domain:acme.test"
    assert len(backing.calls) == 4


def test_a_flood_of_unknown_hosts_stays_bounded() -> None:
    store, _, _ = make(max_size=100)
    store.get_by_domain("acme.test")
    for i in range(10_000):
        assert store.get_by_domain(f"h{i}.test") is None
    assert len(store) == 100
    with pytest.raises(ValueError, match="max_size"):
        make(max_size=0)


def test_least_recently_used_entries_go_first() -> None:
    store, backing, _ = make(max_size=2)
    store.get_by_domain("acme.test")
    store.get_by_domain("a.test")
    store.get_by_domain("acme.test")  # refreshes acme
    store.get_by_domain("b.test")  # evicts a.test, keeps acme.test
    backing.calls.clear()
    store.get_by_domain("acme.test")
    store.get_by_domain("a.test")
    assert backing.calls == ["domain:a.test"]


def test_a_version_change_elsewhere_drops_the_cache() -> None:
    shared = Counter()
    here, backing, _ = make(versions=shared)
    elsewhere, _, _ = make(versions=shared)
    here.get_by_domain("acme.test")
    here.get_by_domain("acme.test")
    assert backing.calls == ["domain:acme.test"]
    elsewhere.invalidate()  # another process saved a domain
    here.get_by_domain("acme.test")
    assert backing.calls == ["domain:acme.test", "domain:acme.test"]


def test_version_reads_can_be_spaced_out() -> None:
    shared = Counter()
    store, _, clock = make(versions=shared, version_check_interval=1.0)
    for _ in range(50):
        store.get_by_domain("acme.test")
    assert shared.reads == 1
    clock.now += 1.0
    store.get_by_domain("acme.test")
    assert shared.reads == 2


def test_concurrent_lookups_are_safe() -> None:
    store, _, _ = make(max_size=50)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(2000):
                store.get_by_domain(f"h{(i + offset) % 120}.test")
                assert store.get_by_domain("acme.test") is ACME
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n * 7,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store) <= 50


class ChangingStore:
    """A store whose data changes, committed and invalidated, while a read is under way."""

    def __init__(self) -> None:
        self.owner: PlainTenant | None = ACME
        self.during_read: Callable[[], None] = lambda: None

    def get_by_id(self, tenant_id: str) -> PlainTenant | None:
        return None

    def get_by_domain(self, domain: str) -> PlainTenant | None:
        answer = self.owner  # read before the change...
        self.during_read()  # ...which commits and is invalidated before the answer is back
        return answer


def test_an_answer_read_before_an_invalidation_is_not_stored_after_it() -> None:
    backing = ChangingStore()
    store = CachedTenantStore(backing, versions=Counter())

    def change() -> None:
        backing.owner = None
        store.invalidate()  # what the change's on_commit does in this process

    backing.during_read = change
    assert store.get_by_domain("acme.test") is ACME  # the answer of its time...
    backing.during_read = lambda: None
    assert store.get_by_domain("acme.test") is None  # ...never served after the change


def test_a_version_seen_moving_during_a_read_also_refuses_the_answer() -> None:
    versions = Counter()
    backing = ChangingStore()
    store = CachedTenantStore(backing, versions=versions)
    assert store.get_by_id("warm") is None  # the first version read

    def changed_by_another_process() -> None:
        backing.owner = None
        versions.bump()
        store.get_by_id("other")  # another thread's lookup notices the new version

    backing.during_read = changed_by_another_process
    assert store.get_by_domain("acme.test") is ACME
    backing.during_read = lambda: None
    assert store.get_by_domain("acme.test") is None


def test_answers_the_store_calls_unsafe_are_returned_but_not_stored() -> None:
    backing = DictStore(by_id={"acme": ACME}, by_domain={})
    storable = [False]
    store = CachedTenantStore(backing, can_store=lambda: storable[0])
    assert store.get_by_id("acme") is ACME
    assert len(store) == 0
    storable[0] = True
    assert store.get_by_id("acme") is ACME
    assert len(store) == 1
