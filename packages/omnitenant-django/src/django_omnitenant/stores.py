"""The tenant store of the Django app: the ORM, behind an in-process cache.

:func:`get_tenant_store` returns the process-wide :class:`CachedTenantStore` the resolvers
and the Celery integration use. A warm lookup costs no query. Saving or deleting a tenant
or a domain (``save()``, ``delete()``, and the query sets' ``update()`` / ``delete()``)
bumps a version in the shared Django cache (``TENANT_CACHE_ALIAS``) once the transaction
commits. The process that made the change drops its cached tenants at once; every other
process reads the version at most every ``TENANT_CACHE_VERSION_CHECK_INTERVAL`` seconds
(1 s by default; 0 reads it on every lookup, one cache read per request) and drops its
cached tenants when it moved. Raw SQL changes are only seen once the entries expire
(``TENANT_CACHE_TTL``).

An answer read before a change is never cached after that change's invalidation (see
:mod:`omnitenant_resolvers._cache`), and answers read inside a transaction on the master
database are never cached at all: under ``REPEATABLE READ`` they come from the
transaction's snapshot, which may predate changes already invalidated, and in any
transaction they may include its own uncommitted (perhaps rolled back) writes.

With the local-memory cache the version is per process: use a shared cache (Redis,
Memcached, the database cache) when several processes serve requests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

from django.core.cache import caches
from django.db import connections, transaction

from django_omnitenant.conf import AppSettings, app_settings, backend_settings
from django_omnitenant.lifecycle import KNOWN_STATES
from django_omnitenant.utils import get_domain_model, get_tenant_model
from omnitenant_context import Tenant, TenantContext
from omnitenant_resolvers import CachedTenantStore

__all__ = [
    "CacheVersionSource",
    "ModelTenantStore",
    "get_tenant_store",
    "invalidate_tenant_cache",
    "on_tenant_lookups_dropped",
]

VERSION_KEY: Final = "omnitenant:tenant-lookup-version"


# Tenants the store finds: those a request gets a state-specific answer for (the
# middleware serves only active ones). Marked and failed tenants are unknown.
_FOUND_STATES: Final = sorted(KNOWN_STATES)


class ModelTenantStore:
    """Reads tenants through the ORM, always from the master database.

    It finds tenants that are active, in maintenance, provisioning or suspended, so the
    middleware can answer for their state (503, 403); callers that may only use active
    tenants check ``status`` (the Celery integration does). Tenants marked for deletion
    or failed are ``None``, like unknown ones.
    """

    def reads_committed_state(self) -> bool:
        """Tell whether a read now sees the latest committed data and nothing else.

        True in autocommit mode (every statement takes a fresh snapshot). Inside a
        transaction the snapshot may be older (``REPEATABLE READ``) or hold the
        transaction's own uncommitted writes: such answers must not be cached.
        """
        connection = connections[backend_settings().master_database]
        return not connection.in_atomic_block and connection.get_autocommit()

    def get_by_id(self, tenant_id: str) -> Tenant | None:
        with TenantContext.use_master_db():
            return (
                get_tenant_model()
                .objects.filter(tenant_id=tenant_id, status__in=_FOUND_STATES)
                .first()
            )

    def get_by_domain(self, domain: str) -> Tenant | None:
        with TenantContext.use_master_db():
            record = (
                get_domain_model().objects.select_related("tenant").filter(domain=domain).first()
            )
        if record is None or record.tenant.status not in KNOWN_STATES:
            return None
        return record.tenant


class CacheVersionSource:
    """A shared invalidation version, kept in a Django cache under a global key."""

    def __init__(self, alias: str, key: str = VERSION_KEY) -> None:
        self.alias = alias
        self.key = key

    def get_version(self) -> object:
        cache = caches[self.alias]
        if TenantContext.get_state().is_empty:
            # The usual case (the middleware, before it enters a tenant): keys are
            # global already, no scope to enter.
            return cache.get(self.key, 0)
        # The master scope keeps the key global when the cache is tenant-aware.
        with TenantContext.use_master_db():
            return cache.get(self.key, 0)

    def bump(self) -> None:
        cache = caches[self.alias]
        with TenantContext.use_master_db():
            # add() first: incr() fails on a missing key, and add() is atomic.
            if not cache.add(self.key, 1, timeout=None):
                try:
                    cache.incr(self.key)
                except ValueError:  # evicted between add() and incr()
                    cache.set(self.key, 1, timeout=None)


_lock = threading.Lock()
# The store and the settings object it was built from: a settings change (override_settings)
# replaces that object, and the next lookup builds a new store from the new one.
_built: tuple[AppSettings, CachedTenantStore] | None = None


def get_tenant_store() -> CachedTenantStore:
    """The process-wide cached store, built from the settings on first use."""
    global _built  # noqa: PLW0603 - one store per process, rebuilt on settings change
    conf = app_settings()
    built = _built
    if built is None or built[0] is not conf:
        with _lock:
            built = _built
            if built is None or built[0] is not conf:
                source = ModelTenantStore()
                store = CachedTenantStore(
                    source,
                    ttl=conf.tenant_cache_ttl,
                    negative_ttl=conf.tenant_cache_negative_ttl,
                    max_size=conf.tenant_cache_max_size,
                    versions=CacheVersionSource(conf.tenant_cache_alias),
                    version_check_interval=conf.tenant_cache_version_check_interval,
                    on_clear=_lookups_dropped,
                    can_store=source.reads_committed_state,
                )
                built = _built = (conf, store)
    return built[1]


# Caches derived from tenant or domain rows (the per-tenant Site cache) drop their
# entries with the tenant lookups: in this process on a change, in the others when they
# see the shared version move.
_drop_listeners: list[Callable[[], None]] = []


def on_tenant_lookups_dropped(listener: Callable[[], None]) -> None:
    """Call ``listener`` whenever this process drops its cached tenant lookups."""
    if listener not in _drop_listeners:
        _drop_listeners.append(listener)


def _lookups_dropped() -> None:
    for listener in _drop_listeners:
        listener()


def invalidate_tenant_cache(**_: Any) -> None:
    """Drop cached tenants in every process, once the current transaction commits."""
    master = backend_settings().master_database
    transaction.on_commit(lambda: get_tenant_store().invalidate(), using=master)
