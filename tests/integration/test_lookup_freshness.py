"""The cached tenant lookup never goes back in time, also under concurrency.

A lookup that read the database before a committed change must not store its answer
after that change's invalidation: the old owner of a domain (or a suspended tenant) would
be served for a whole ``TENANT_CACHE_TTL``. Checked on the real PostgreSQL, with the
version shared through the real Redis, against readers in threads and a writer in this
process, in another process, and a reader in a ``REPEATABLE READ`` transaction.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.test import override_settings

from django_omnitenant.stores import get_tenant_store
from tests.testapp.models import Domain, Tenant

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
HOST = "moving.example.test"
READERS = 3
# Each burst of moves races the readers once; about one in ten bursts served an old
# owner before the fix.
BURSTS = 50


@pytest.fixture
def owners(live_db: None) -> Iterator[tuple[Any, Any]]:
    """Two tenant rows (no storage: the lookup reads rows only) and a domain of the first."""
    first = Tenant.objects.create(tenant_id="fresh_a", name="A")
    second = Tenant.objects.create(tenant_id="fresh_b", name="B")
    Domain.objects.create(tenant=first, domain=HOST)
    config = {
        **settings.OMNITENANT_CONFIG,
        "TENANT_CACHE_ALIAS": "shared",
        "TENANT_CACHE_VERSION_CHECK_INTERVAL": 0,
        "TENANT_CACHE_TTL": 3600,
    }
    try:
        with override_settings(OMNITENANT_CONFIG=config):
            yield first, second
    finally:
        Domain.objects.filter(domain=HOST).delete()
        first.delete()
        second.delete()


def owner_of_host() -> str | None:
    tenant = get_tenant_store().get_by_domain(HOST)
    return None if tenant is None else tenant.tenant_id


def in_thread(work: Callable[[], object]) -> None:
    """Run ``work`` on a connection of its own, to its end (its writes commit)."""

    def run() -> None:
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def test_a_repeatable_read_snapshot_is_never_cached(owners: tuple[Any, Any]) -> None:
    first, second = owners
    assert owner_of_host() == first.tenant_id  # cached
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT 1")  # the snapshot is taken here
        in_thread(lambda: Domain.objects.filter(domain=HOST).update(tenant=second))
        # Committed and invalidated; this transaction still sees its older snapshot...
        assert owner_of_host() == first.tenant_id
    # ...but the cache must not have kept that answer.
    assert owner_of_host() == second.tenant_id


def test_an_answer_read_in_a_transaction_is_not_cached_past_its_rollback(
    owners: tuple[Any, Any],
) -> None:
    first, second = owners
    get_tenant_store().clear_local()
    with transaction.atomic():
        Domain.objects.filter(domain=HOST).update(tenant=second)
        assert owner_of_host() == second.tenant_id  # its own uncommitted write
        transaction.set_rollback(True)
    assert owner_of_host() == first.tenant_id


class Readers:
    """Threads looking the host up in a loop, each on its own connection."""

    def __init__(self, count: int) -> None:
        self.done = [0] * count
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._read, args=(i,)) for i in range(count)]

    def _read(self, index: int) -> None:
        try:
            while not self.stop.is_set():
                owner_of_host()
                self.done[index] += 1
        except BaseException as exc:  # re-raised by the test in settle()/close()
            self.errors.append(exc)
        finally:
            connections.close_all()

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def settle(self) -> None:
        """Wait until every lookup under way when this is called has finished."""
        marks = list(self.done)
        deadline = time.monotonic() + 30
        while any(now < mark + 2 for now, mark in zip(self.done, marks, strict=True)):
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, "the readers stopped reading"
            time.sleep(0.0005)

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        assert not self.errors, self.errors


def test_readers_racing_a_writer_never_keep_an_old_owner(owners: tuple[Any, Any]) -> None:
    # The writer is in this process: its own invalidation must be enough ("the changing
    # process sees its change at once"), so the shared version is hardly ever read here.
    config = {**settings.OMNITENANT_CONFIG, "TENANT_CACHE_VERSION_CHECK_INTERVAL": 3600}
    stale: list[int] = []
    with override_settings(OMNITENANT_CONFIG=config), Readers(READERS) as readers:
        for burst in range(BURSTS):
            # Moves back to back: the readers that missed after one move's invalidation
            # are reading the database while the next one commits.
            for move in range(3):
                target = owners[(burst + move) % 2]
                Domain.objects.filter(domain=HOST).update(tenant=target)  # commits, invalidates
            readers.settle()
            if owner_of_host() != target.tenant_id:
                stale.append(burst)
    assert stale == [], f"an old owner was served after {len(stale)} of {BURSTS} bursts"


MOVER = """
import sys
import django
django.setup()
from tests.testapp.models import Domain, Tenant
Domain.objects.filter(domain=sys.argv[1]).update(tenant=Tenant.objects.get(tenant_id=sys.argv[2]))
"""


def move_in_another_process(tenant_id: str) -> None:
    """Move the domain from another process: this one hears of it through Redis only."""
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "OMNITENANT_TEST_DATABASE": connections["default"].settings_dict["NAME"],
        "OMNITENANT_TEST_TENANT_CACHE": "shared",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [sys.executable, "-c", MOVER, HOST, tenant_id], check=True, env=environ, cwd=ROOT
    )


def test_a_snapshot_older_than_another_process_change_is_never_cached(
    owners: tuple[Any, Any],
) -> None:
    first, second = owners
    assert owner_of_host() == first.tenant_id  # cached
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT 1")
        move_in_another_process(second.tenant_id)
        # The shared version moved: the entry is dropped, the snapshot still says first.
        assert owner_of_host() == first.tenant_id
    assert owner_of_host() == second.tenant_id
