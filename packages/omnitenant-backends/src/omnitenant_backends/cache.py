"""Tenant-scoped caching on Django's own cache backends.

Switch a cache alias to a tenant-aware class in ``settings.CACHES``; nothing is patched at
import time and every other alias keeps working as before::

    CACHES = {
        "default": {
            "BACKEND": "omnitenant_backends.cache.RedisCache",   # instead of Django's
            "LOCATION": "redis://127.0.0.1:6379/0",
        },
    }

What changes:

* **Inside a tenant** (``TenantContext.use_tenant(tenant)``) every key of every cache
  method (``get``/``set``/``add``/``delete``/``touch``/``has_key``/``incr``/``decr``/
  ``get_or_set``, the ``*_many`` methods, ``incr_version`` and all the async ``a*``
  variants) is stored under the tenant's ``cache_namespace`` and the tenant's current
  *generation*. Two tenants using the same key never see each other's value.
* **With no tenant active, or inside** ``TenantContext.use_master_db()``, keys are the
  plain global keys Django would make, so shared entries stay reachable on purpose: code
  inside a tenant reads them through ``with TenantContext.use_master_db(): ...``. A
  process that uses Django's own backend class on the same server sees the same global
  keys.
* ``clear()`` **inside a tenant** forgets only that tenant's entries, in O(1): it gives
  the tenant a new generation, so its old keys are never read again. The other tenants'
  and the global entries stay.
* ``clear()`` **with no tenant active empties the whole cache, every tenant included**,
  exactly as Django's ``clear()`` does (Redis ``FLUSHDB``, memcached ``flush_all``...).
  To forget one tenant from outside its context call :meth:`TenantCacheMixin.clear_namespace`
  or :func:`clear_tenant_cache`.

How keys are made. Django's key function gets the user's key untouched, and a *prefix*
that says whose key it is::

    global key     key_func(key,       P,                  version) -> "P:1:key"
    tenant key     key_func(key,       P|namespace|gen,    version) -> "P|acme|5f3a:1:key"
    generation     key_func(namespace, P|,                 VERSION) -> "P|:1:acme"

(``P`` is the alias's ``KEY_PREFIX``, ``gen`` the tenant's generation in hex.)

``|`` is neither Django's ``:`` nor allowed in a namespace (letters, digits, ``_``, ``.``
and ``-``), so the three kinds cannot collide whatever the user's keys contain: what
follows ``KEY_PREFIX`` (``:`` / ``|name|`` / ``|:``) tells them apart, and a user key such
as ``"b:x"`` or ``"|acme|5f3a:1:x"`` only ever lands after that. A custom
``KEY_FUNCTION`` must keep the prefix in the key (Django's default does; a function that
ignores it is refused at start-up, since it would merge every tenant).

Generations. A tenant's generation is a random 60-bit number kept in the cache itself under
its own global key with no expiry, created with ``add()`` so that two processes using a
tenant for the first time at once agree on one. Clearing writes a fresh random number. It is
random rather than a counter so that losing the generation key (evicted by an LRU policy,
culled by ``MAX_ENTRIES``, flushed) can never bring an old generation, and its stale
entries, back: a lost generation just starts the tenant with an empty cache.

Old generations' entries are never deleted eagerly; they expire by their own timeout or are
evicted by the backend. **Entries written with** ``timeout=None`` **stay until the backend
evicts them**, so on a cache without an eviction policy a tenant that clears often and
writes non-expiring keys makes the cache grow.

Reading the generation. By default every operation inside a tenant reads the tenant's
generation from the cache first (one extra cache round trip; a ``*_many`` call reads it
once for all its keys). That is always consistent: a ``clear()`` in any process is seen by
the next operation everywhere. Setting ``"TENANT_GENERATION_MEMO_SECONDS": n`` in the
alias's ``CACHES`` entry keeps each cache object's last read generation for ``n`` seconds
instead: faster, but after a ``clear()`` made by another cache object (another thread holds
its own object, another process surely does) this one may go on reading the tenant's old
entries for up to ``n`` seconds. Clears through the same object are seen at once.

The async methods run the synchronous ones in a thread (``sync_to_async``), as Django's
built-in backends do; the tenant context travels with them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from contextvars import ContextVar, Token
from functools import lru_cache
from time import monotonic
from typing import Any, Final

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.core.cache.backends.filebased import FileBasedCache as DjangoFileBasedCache
from django.core.cache.backends.locmem import LocMemCache as DjangoLocMemCache
from django.core.cache.backends.memcached import PyLibMCCache as DjangoPyLibMCCache
from django.core.cache.backends.memcached import PyMemcacheCache as DjangoPyMemcacheCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from omnitenant_backends._base import BaseTenantBackend
from omnitenant_context import (
    ContextState,
    InvalidIdentifier,
    ProvisioningError,
    Tenant,
    TenantContext,
)

__all__ = [
    "CacheTenantBackend",
    "DatabaseCache",
    "FileBasedCache",
    "LocMemCache",
    "PyLibMCCache",
    "PyMemcacheCache",
    "RedisCache",
    "TenantCacheMixin",
    "clear_tenant_cache",
    "tenant_cache_aliases",
]

#: Separates the scope marker from ``KEY_PREFIX``: outside the namespace alphabet and not
#: Django's ``:``, so a tenant's prefix can never equal another scope's.
SEPARATOR: Final = "|"

#: The ``CACHES`` entry key that turns on the per-object generation memo (seconds).
MEMO_SETTING: Final = "TENANT_GENERATION_MEMO_SECONDS"

# Letters, digits and "_.-": the tenant-id alphabet and a little more for custom
# namespaces; none is a separator, a space or a control character (memcached refuses those).
_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]{1,100}")

_GENERATION_BITS: Final = 60

# The prefix pinned for the duration of one operation: (cache object, context state it was
# computed in, prefix). Bulk methods pin the tenant prefix so the generation is read once
# for all their keys; reading a generation pins the generation prefix. A ContextVar, so a
# pin never leaks into another thread or task; the state check makes a pin void as soon as
# the context changes (say, a callback entering another tenant).
_pin: ContextVar[tuple[BaseCache, ContextState, str] | None] = ContextVar(
    "omnitenant_cache_pin", default=None
)

_MISSING: Final = object()


@lru_cache(maxsize=4096)
def _valid_namespace(namespace: str) -> str:
    if _NAMESPACE.fullmatch(namespace) is None:
        raise InvalidIdentifier(
            f"The cache namespace {namespace!r} is not usable: a namespace is 1 to 100 "
            "letters, digits, '_', '.' or '-'. Fix the tenant's cache_namespace."
        )
    return namespace


def check_namespace(namespace: object) -> str:
    """Return ``namespace`` if it can be a tenant's cache namespace, else raise.

    Raises:
        InvalidIdentifier: It is not 1 to 100 letters, digits, ``_``, ``.`` or ``-``.
    """
    if not isinstance(namespace, str):
        raise InvalidIdentifier(f"A cache namespace must be a str, not {namespace!r}.")
    return _valid_namespace(namespace)


def _new_generation() -> int:
    return secrets.randbits(_GENERATION_BITS)


class TenantCacheMixin(BaseCache):
    """Makes a Django cache backend class tenant-aware; list it before the backend class.

    ::

        class MyRedisCache(TenantCacheMixin, django_redis_backend_class): ...

    See the module documentation for what changes, what ``clear()`` does with and without
    a tenant, and the ``TENANT_GENERATION_MEMO_SECONDS`` option. The backend must build
    every key through :meth:`make_key` (all of Django's built-in backends do) and its
    async methods must call its sync ones (also true of every built-in backend).
    """

    def __init__(self, location: Any, params: dict[str, Any]) -> None:
        # The concrete backend after this mixin in the MRO takes (location, params).
        super().__init__(location, params)  # type: ignore[call-arg]  # BaseCache takes params only
        memo = params.get(MEMO_SETTING, 0)
        if isinstance(memo, bool) or not isinstance(memo, int | float) or memo < 0:
            raise ImproperlyConfigured(
                f"CACHES {MEMO_SETTING} must be a number of seconds >= 0, not {memo!r}."
            )
        self._memo_seconds = float(memo)
        self._memo: dict[str, tuple[int, float]] = {}
        self._generation_prefix = f"{self.key_prefix}{SEPARATOR}"
        if self.key_func("k", "a", 1) == self.key_func("k", "b", 1):
            raise ImproperlyConfigured(
                "The cache's KEY_FUNCTION ignores the key prefix, so every tenant would "
                "share every key. Use Django's default key function or one that keeps "
                "the key_prefix argument in the key."
            )

    # -- keys -------------------------------------------------------------------------

    def make_key(self, key: Any, version: int | None = None) -> str:
        """Django's key for ``key`` in the current scope: the active tenant's or global."""
        if version is None:
            version = self.version
        made: str = self.key_func(key, self._scope_prefix(TenantContext.get_state()), version)
        return made

    def _scope_prefix(self, state: ContextState) -> str:
        pin = _pin.get()
        if pin is not None and pin[0] is self and pin[1] is state:
            return pin[2]
        tenant = state.tenant
        if tenant is None or state.master:
            return self.key_prefix
        namespace = check_namespace(tenant.cache_namespace)
        generation = self._generation(state, namespace)
        return f"{self.key_prefix}{SEPARATOR}{namespace}{SEPARATOR}{generation:x}"

    def _generation(self, state: ContextState, namespace: str) -> int:
        if self._memo_seconds:
            memo = self._memo.get(namespace)
            if memo is not None and memo[1] > monotonic():
                return memo[0]
        token = _pin.set((self, state, self._generation_prefix))
        try:
            generation = self.get(namespace, _MISSING)
            if not isinstance(generation, int):
                candidate = _new_generation()
                # add(), not set(): when several processes start a tenant at once, the
                # first one wins and every other adopts its generation.
                if self.add(namespace, candidate, timeout=None):
                    generation = candidate
                else:
                    generation = self.get(namespace, _MISSING)
                    if not isinstance(generation, int):  # lost again meanwhile
                        self.set(namespace, candidate, timeout=None)
                        generation = candidate
        finally:
            _pin.reset(token)
        self._remember(namespace, generation)
        return generation

    def _remember(self, namespace: str, generation: int) -> None:
        if self._memo_seconds:
            self._memo[namespace] = (generation, monotonic() + self._memo_seconds)

    def _pin_scope(self) -> Token[tuple[BaseCache, ContextState, str] | None] | None:
        """Fix the current scope's prefix for one bulk call; ``None`` when global."""
        state = TenantContext.get_state()
        if state.tenant is None or state.master:
            return None  # global keys need no generation: nothing to read once
        return _pin.set((self, state, self._scope_prefix(state)))

    # -- clearing ---------------------------------------------------------------------

    def clear(self) -> None:
        """Inside a tenant: forget that tenant's entries. Otherwise: empty the whole cache.

        With no tenant active (or inside ``use_master_db()``) this is Django's
        ``clear()``: every entry of every tenant and every global entry goes.
        """
        state = TenantContext.get_state()
        tenant = state.tenant
        if tenant is None or state.master:
            super().clear()
            return
        self.clear_namespace(tenant.cache_namespace)

    def clear_namespace(self, namespace: str) -> None:
        """Forget every entry of the tenant whose ``cache_namespace`` is ``namespace``.

        Works from any context, in O(1): the namespace gets a new generation, so its old
        entries are never read again and expire by their timeout. Global entries and the
        other tenants' stay.
        """
        namespace = check_namespace(namespace)
        generation = _new_generation()
        token = _pin.set((self, TenantContext.get_state(), self._generation_prefix))
        try:
            self.set(namespace, generation, timeout=None)
        finally:
            _pin.reset(token)
        self._remember(namespace, generation)

    # -- bulk methods: one generation read for all keys ---------------------------------

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        token = self._pin_scope()
        try:
            return super().get_many(keys, version=version)
        finally:
            if token is not None:
                _pin.reset(token)

    def set_many(
        self,
        data: dict[Any, Any],
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> list[Any]:
        token = self._pin_scope()
        try:
            return super().set_many(data, timeout=timeout, version=version)
        finally:
            if token is not None:
                _pin.reset(token)

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        token = self._pin_scope()
        try:
            super().delete_many(keys, version=version)
        finally:
            if token is not None:
                _pin.reset(token)

    # Django 5.2's async bulk methods call the single-key async method once per key (one
    # thread hop and one generation read each); run the sync bulk method in one hop, as
    # Django 6 does for backends that override it.

    async def aget_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        return await sync_to_async(self.get_many, thread_sensitive=True)(keys, version=version)

    async def aset_many(
        self,
        data: dict[Any, Any],
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> list[Any]:
        return await sync_to_async(self.set_many, thread_sensitive=True)(
            data, timeout=timeout, version=version
        )

    async def adelete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        await sync_to_async(self.delete_many, thread_sensitive=True)(keys, version=version)


class RedisCache(TenantCacheMixin, DjangoRedisCache):
    """Django's ``RedisCache``, tenant-aware (needs ``redis``, imported on first use)."""


class LocMemCache(TenantCacheMixin, DjangoLocMemCache):
    """Django's ``LocMemCache``, tenant-aware."""


class FileBasedCache(TenantCacheMixin, DjangoFileBasedCache):
    """Django's ``FileBasedCache``, tenant-aware."""


class DatabaseCache(TenantCacheMixin, DjangoDatabaseCache):
    """Django's ``DatabaseCache``, tenant-aware.

    Every tenant's entries share the one cache table, under their own keys. Its model has
    the app label ``django_cache``: list that label in ``OMNITENANT_CONFIG["MASTER_APPS"]``
    so the router keeps the table in the master database inside database tenants too.
    """


class PyMemcacheCache(TenantCacheMixin, DjangoPyMemcacheCache):
    """Django's ``PyMemcacheCache``, tenant-aware (needs ``pymemcache``)."""


class PyLibMCCache(TenantCacheMixin, DjangoPyLibMCCache):
    """Django's ``PyLibMCCache``, tenant-aware (needs ``pylibmc``)."""


# -- tenant life cycle ----------------------------------------------------------------


def tenant_cache_aliases() -> list[str]:
    """The ``CACHES`` aliases whose backend is tenant-aware (a :class:`TenantCacheMixin`)."""
    aliases: list[str] = []
    for alias, conf in settings.CACHES.items():
        backend = import_string(conf["BACKEND"])
        if isinstance(backend, type) and issubclass(backend, TenantCacheMixin):
            aliases.append(alias)
    return aliases


def clear_tenant_cache(tenant: Tenant, aliases: Iterable[str] | None = None) -> list[str]:
    """Forget ``tenant``'s entries in the given cache aliases (default: every tenant-aware one).

    Sends no signal: this is what code that retires a tenant through its data backend calls
    to drop the tenant's cache as well. Every alias is tried even when one fails.

    Returns:
        The aliases cleared.

    Raises:
        ProvisioningError: Clearing failed in at least one alias (the first error is the
            cause); an alias that is not tenant-aware is refused the same way.
    """
    namespace = check_namespace(tenant.cache_namespace)
    targets = tenant_cache_aliases() if aliases is None else list(aliases)
    failures: list[tuple[str, Exception]] = []
    for alias in targets:
        try:
            cache = caches[alias]
            if isinstance(cache, TenantCacheMixin):
                cache.clear_namespace(namespace)
            else:
                failures.append((alias, TypeError(f"the cache {alias!r} is not tenant-aware")))
        except Exception as exc:  # reported together below, after every alias was tried
            failures.append((alias, exc))
    if failures:
        detail = "; ".join(f"{alias!r}: {exc}" for alias, exc in failures)
        raise ProvisioningError(
            f"Clearing the cache of tenant {tenant.tenant_id!r} failed ({detail}); its old "
            "entries stay until they expire. Retry once the cache is reachable."
        ) from failures[0][1]
    return targets


class CacheTenantBackend(BaseTenantBackend):
    """A tenant's cache namespace, in every tenant-aware cache alias.

    Not a data isolation model (a tenant's rows live in its schema or database); it
    manages the tenant's share of the caches configured with a :class:`TenantCacheMixin`
    class, and satisfies :class:`~omnitenant_context.TenantBackend` like the others.

    * ``create()`` has nothing to provision: a namespace exists as soon as a key is
      written in it. It sends ``tenant_created`` like every backend.
    * ``migrate()`` has nothing to migrate (caches have no schema); it sends
      ``tenant_migrated``.
    * ``delete(drop_data=True)`` forgets the tenant's entries in every tenant-aware alias
      (or the ``aliases`` given), in O(1) each; ``delete()`` keeps them, and they expire by
      their timeout. Re-using the id of a tenant deleted without ``drop_data`` shows the
      new tenant the old one's entries that have not expired yet.
    * ``activate()`` / ``deactivate()`` enter and leave the tenant, which is all the
      caches need to scope their keys.

    To drop a tenant's cache next to its data backend's ``delete()`` without sending
    ``tenant_deleted`` twice, call :func:`clear_tenant_cache` instead.
    """

    isolation_type = "cache"

    def __init__(self, tenant: Tenant, aliases: Iterable[str] | None = None) -> None:
        super().__init__(tenant)
        check_namespace(tenant.cache_namespace)
        self._aliases = None if aliases is None else tuple(aliases)

    @property
    def aliases(self) -> list[str]:
        """The cache aliases this backend manages."""
        return tenant_cache_aliases() if self._aliases is None else list(self._aliases)

    def _provision(self, *, run_migrations: bool) -> None:
        return  # a namespace needs no storage of its own

    def _rollback_provisioning(self) -> None:
        return  # _provision made nothing

    def _run_migrate(self, **options: Any) -> None:
        return  # caches have no schema

    def _drop(self) -> None:
        clear_tenant_cache(self.tenant, self.aliases)
