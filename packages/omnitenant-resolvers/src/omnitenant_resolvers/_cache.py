"""A tenant store in front of another: in-process LRU with TTL and negative caching.

A warm lookup costs a dictionary access under a lock and no round trip at all. Unknown
hosts are cached too (for a shorter time), so a flood of requests for hosts nobody owns
does not become a flood of queries; the LRU bound keeps that flood from growing memory.

Invalidation across processes goes through a :class:`VersionSource`: a counter kept
somewhere every process can read (the Django app uses the shared Django cache). Saving a
tenant or domain bumps it; each process compares it with the value it saw last, at most
every ``version_check_interval`` seconds, and drops its entries when it moved.

An answer is never stored after an invalidation it predates. Each drop of the entries
(local or because the shared version moved) starts a new *generation*; a lookup notes the
generation before it reads the store and stores its answer only if the generation is still
the same afterwards. Without that, a read that started before a committed change and
finished after its invalidation would put the old answer back, for a whole ``ttl``. A
store whose reads may come from an older snapshot (a ``REPEATABLE READ`` transaction, or
a transaction that saw its own uncommitted writes) says so through ``can_store``: such an
answer is returned, never stored.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Protocol, runtime_checkable

from omnitenant_context import Tenant, TenantStore
from omnitenant_context.observe import emit, observing

__all__ = ["CachedTenantStore", "VersionSource"]

_MISSING: Final = object()


@runtime_checkable
class VersionSource(Protocol):
    """A shared counter that says "tenant data changed somewhere"."""

    def get_version(self) -> object:
        """Return the current version; any change of value means "drop your cache"."""
        ...

    def bump(self) -> None:
        """Change the version, so every process drops its cached tenants."""
        ...


class CachedTenantStore:
    """Caches another :class:`~omnitenant_context.TenantStore`; itself a ``TenantStore``.

    Args:
        store: Where tenants really come from (the ORM, in the Django app).
        ttl: Seconds a found tenant stays cached.
        negative_ttl: Seconds an unknown id or host stays cached as unknown.
        max_size: Entries kept at most; the least recently used go first.
        versions: The shared version to watch, or ``None`` for a single process.
        version_check_interval: Seconds between two reads of ``versions``; 0 reads it
            on every lookup (always current; one cache read per lookup).
        clock: A monotonic clock (tests pass a fake one).
        on_clear: Called after this process's entries were dropped (an invalidation
            here or seen from another process), for caches derived from tenants.
        can_store: Asked before each read of ``store``: ``False`` when what the store
            would read now may be older than the latest invalidation (the Django app
            answers ``False`` inside a transaction). The answer is then returned but
            not cached. ``None``: every answer may be cached.
    """

    def __init__(
        self,
        store: TenantStore,
        *,
        ttl: float = 300.0,
        negative_ttl: float = 30.0,
        max_size: int = 10_000,
        versions: VersionSource | None = None,
        version_check_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        on_clear: Callable[[], None] | None = None,
        can_store: Callable[[], bool] | None = None,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1.")
        self.store = store
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_size = max_size
        self.versions = versions
        self.version_check_interval = version_check_interval
        self._clock = clock
        self._on_clear = on_clear
        self._can_store = can_store
        self._entries: OrderedDict[tuple[str, str], tuple[float, Tenant | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._seen_version: object = _MISSING
        self._next_version_check = 0.0
        # Bumped (under the lock) each time the entries are dropped; see the module doc.
        self._generation = 0
        self.hits = 0
        self.misses = 0

    def get_by_id(self, tenant_id: str) -> Tenant | None:
        if observing():
            return self._observed("id", tenant_id, self.store.get_by_id)
        return self._lookup("id", tenant_id, self.store.get_by_id)[0]

    def get_by_domain(self, domain: str) -> Tenant | None:
        if observing():
            return self._observed("domain", domain, self.store.get_by_domain)
        return self._lookup("domain", domain, self.store.get_by_domain)[0]

    def invalidate(self) -> None:
        """Drop this process's entries and tell every other process to drop theirs."""
        self.clear_local()
        if self.versions is not None:
            self.versions.bump()

    def clear_local(self) -> None:
        """Drop this process's entries only (and refuse answers read before now)."""
        with self._lock:
            self._drop_entries()
        if self._on_clear is not None:
            self._on_clear()

    def _drop_entries(self) -> None:
        # Called with the lock held.
        self._entries.clear()
        self._generation += 1

    def __len__(self) -> int:
        return len(self._entries)

    def _observed(
        self, kind: str, value: str, load: Callable[[str], Tenant | None]
    ) -> Tenant | None:
        """The lookup, reported with its latency to ``omnitenant_context.observe``."""
        started = time.perf_counter()
        tenant, hit = self._lookup(kind, value, load)
        emit("lookup", time.perf_counter() - started, kind=kind, result="hit" if hit else "miss")
        return tenant

    def _lookup(
        self, kind: str, value: str, load: Callable[[str], Tenant | None]
    ) -> tuple[Tenant | None, bool]:
        """The tenant, and whether it came from the cache."""
        now = self._clock()
        versions = self.versions
        if versions is not None and now >= self._next_version_check:
            self._check_version(versions, now)
        key = (kind, value)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1], True
            generation = self._generation
        self.misses += 1
        storable = self._can_store is None or self._can_store()
        tenant = load(value)
        if not storable:
            return tenant, False
        expires = now + (self.ttl if tenant is not None else self.negative_ttl)
        with self._lock:
            if self._generation != generation:
                # Invalidated while the store was read: the answer may predate the change.
                return tenant, False
            self._entries[key] = (expires, tenant)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)
        return tenant, False

    def _check_version(self, versions: VersionSource, now: float) -> None:
        version = versions.get_version()
        dropped = False
        with self._lock:
            self._next_version_check = now + self.version_check_interval
            if version != self._seen_version:
                if self._seen_version is not _MISSING:
                    self._drop_entries()
                    dropped = True
                self._seen_version = version
        if dropped and self._on_clear is not None:
            self._on_clear()
