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
    tenant key     key_func(key,       P|namespace|gen,    version) -> "P|acme|83421:1:key"
    generation     key_func(namespace, P|,                 VERSION) -> "P|:1:acme"

(``P`` is the alias's ``KEY_PREFIX``, ``gen`` the tenant's generation in decimal, as the
cache stores it, so a Redis script can build the key from the stored value.)

``|`` is neither Django's ``:`` nor allowed in a namespace (letters, digits, ``_``, ``.``
and ``-``), so the three kinds cannot collide whatever the user's keys contain: what
follows ``KEY_PREFIX`` (``:`` / ``|name|`` / ``|:``) tells them apart, and a user key such
as ``"b:x"`` or ``"|acme|83421:1:x"`` only ever lands after that. A custom
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

Reading the generation. It is always consistent: a ``clear()`` in any process is seen by
the next operation everywhere, at no extra round trip where the backend allows:

* **Redis** (:class:`RedisCache`): ``has_key``, ``set``, ``add`` and ``delete`` are one
  round trip, a Lua script that reads the generation and uses the key built from it (a
  write also creates a missing generation). ``get`` and ``get_many`` are one ``MGET`` of
  the generation key and the keys built from the generation the cache object read last:
  the server answers them at one instant, so the values are used only when the generation
  answered is that one. Otherwise the read runs the script, and remembers the generation
  it answers, so the first read after a ``clear()`` made by *another* cache object
  (another process or thread) costs a second round trip; after its own ``clear()`` an
  object goes straight to the script. The scripts name only the generation key in
  ``KEYS``, so they suit one Redis server or primary/replicas (Django's own topologies),
  not Redis Cluster. Every other method reads the generation first (one extra round
  trip; a ``*_many`` call reads it once for all its keys).
* **LocMem** (:class:`LocMemCache`): the generation lives beside the cache's entries in the
  process (LocMem is per process), read without pickling or locking.
* **File** (:class:`FileBasedCache`): one ``stat()`` of the generation's file when warm
  (the generation is read again only when the file was replaced).
* **Other backends** read the generation from the cache first: one extra read per
  operation, once per ``*_many`` call.

Setting ``"TENANT_GENERATION_MEMO_SECONDS": n`` in the alias's ``CACHES`` entry keeps each
cache object's last read generation for ``n`` seconds instead (useful where the generation
is read from the cache: database, memcached, file): faster, but after a ``clear()`` made
by another cache object (another thread holds its own object, another process surely
does) this one may go on reading the tenant's old entries for up to ``n`` seconds. Clears
through the same object are seen at once.

The async methods run the synchronous ones in a thread (``sync_to_async``), as Django's
built-in backends do; the tenant context travels with them.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable
from contextvars import ContextVar, Token
from functools import lru_cache
from hashlib import md5, sha1
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
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
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
_GENERATION_DIGITS: Final = len(str(2**_GENERATION_BITS - 1))
_LONGEST_GENERATION: Final = "9" * _GENERATION_DIGITS
# Stands for the generation while a tenant key is split around it (cannot be in a
# namespace or prefix; a user key containing it falls back to reading the generation).
_GENERATION_SLOT: Final = "\x00generation\x00"

# The prefix pinned for the duration of one operation: (cache object, context state it was
# computed in, prefix). Bulk methods pin the tenant prefix so the generation is read once
# for all their keys; reading a generation pins the generation prefix. A ContextVar, so a
# pin never leaks into another thread or task; the state check makes a pin void as soon as
# the context changes (say, a callback entering another tenant).
_pin: ContextVar[tuple[BaseCache, ContextState, str] | None] = ContextVar(
    "omnitenant_cache_pin", default=None
)

_MISSING: Final = object()


_MAX_REMEMBERED_NAMESPACES: Final = 4096


@lru_cache(maxsize=_MAX_REMEMBERED_NAMESPACES)
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
        # Namespace -> (key prefix around the generation slot, generation key).
        self._namespace_pieces: dict[str, tuple[str, str]] = {}
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
        return self._tenant_prefix(namespace, self._generation(state, namespace))

    def _tenant_prefix(self, namespace: str, generation: int) -> str:
        """The key prefix of a tenant's entries in one generation."""
        return f"{self.key_prefix}{SEPARATOR}{namespace}{SEPARATOR}{generation}"

    def _tenant_key_parts(self, key: Any, version: int | None) -> tuple[str, str, str] | None:
        """``(generation key, head, tail)`` of ``key`` in the active tenant, or ``None``.

        The tenant's key is ``head + generation + tail``. ``None`` when no tenant is active
        (global keys), inside a pinned operation, or when the key function does not keep
        the generation as one piece of the key (then the generation is read first).
        """
        state = TenantContext.get_state()
        tenant = state.tenant
        if tenant is None or state.master:
            return None
        pin = _pin.get()
        if pin is not None and pin[0] is self and pin[1] is state:
            return None
        namespace = tenant.cache_namespace
        # A namespace that is not a str (unhashable, say) goes to the check, which refuses it.
        pieces = self._namespace_pieces.get(namespace) if type(namespace) is str else None
        if pieces is None:
            pieces = self._pieces_of(namespace)
        slot_prefix, generation_key = pieces
        made: str = self.key_func(key, slot_prefix, self.version if version is None else version)
        head, slot, tail = made.partition(_GENERATION_SLOT)
        if not slot or _GENERATION_SLOT in tail:
            return None
        # Warn about keys memcached would refuse, as Django does, at the longest generation.
        self.validate_key(f"{head}{_LONGEST_GENERATION}{tail}")
        return generation_key, head, tail

    def _pieces_of(self, namespace: Any) -> tuple[str, str]:
        """A namespace's key prefix around the generation slot, and its generation key.

        Both depend on the namespace alone, so they are made once per namespace (the
        namespace checked then) rather than once per operation.
        """
        namespace = check_namespace(namespace)
        pieces = (
            f"{self.key_prefix}{SEPARATOR}{namespace}{SEPARATOR}{_GENERATION_SLOT}",
            self.key_func(namespace, self._generation_prefix, self.version),
        )
        if len(self._namespace_pieces) >= _MAX_REMEMBERED_NAMESPACES:
            self._namespace_pieces.clear()
        self._namespace_pieces[namespace] = pieces
        return pieces

    def _memoised(self, namespace: str) -> int | None:
        """The generation remembered under ``TENANT_GENERATION_MEMO_SECONDS``, if fresh."""
        if self._memo_seconds:
            memo = self._memo.get(namespace)
            if memo is not None and memo[1] > monotonic():
                return memo[0]
        return None

    def _generation(self, state: ContextState, namespace: str) -> int:
        memoised = self._memoised(namespace)
        if memoised is not None:
            return memoised
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


# KEYS[1] the tenant's generation key; ARGV[1], ARGV[2] the key's head and tail around the
# generation. A missing generation means the tenant has no entries yet.
_EXISTS_SCRIPT: Final = """
local generation = redis.call('GET', KEYS[1])
if not generation then return 0 end
return redis.call('EXISTS', ARGV[1] .. generation .. ARGV[2])
"""

# KEYS[1] the tenant's generation key; ARGV pairs of key heads and tails. Answers the
# generation first (false when there is none), then each key's value: get() and get_many()
# run it when they do not know the generation yet, and remember the one it answers.
_READ_MANY_SCRIPT: Final = """
local generation = redis.call('GET', KEYS[1])
if not generation then return {false} end
local keys = {}
for i = 1, #ARGV, 2 do keys[#keys + 1] = ARGV[i] .. generation .. ARGV[i + 1] end
local values = redis.call('MGET', unpack(keys))
table.insert(values, 1, generation)
return values
"""
# Lua's unpack() has a stack limit: longer get_many() calls read the generation first.
_MAX_SCRIPT_KEYS: Final = 1000

# KEYS[1] the generation key; ARGV: candidate generation (stored if there is none, as
# add() would), key head, key tail, operation, value, timeout ('' for none).
_WRITE_SCRIPT: Final = """
local generation = redis.call('GET', KEYS[1])
if not generation then
    generation = ARGV[1]
    redis.call('SET', KEYS[1], generation)
end
local key = ARGV[2] .. generation .. ARGV[3]
local operation, value, timeout = ARGV[4], ARGV[5], ARGV[6]
if operation == 'delete' then return redis.call('DEL', key) end
if operation == 'set' then
    if timeout == '0' then redis.call('DEL', key)
    elseif timeout == '' then redis.call('SET', key, value)
    else redis.call('SET', key, value, 'EX', timeout) end
    return 1
end
-- add
if timeout == '0' then return 1 - redis.call('EXISTS', key) end
local stored
if timeout == '' then stored = redis.call('SET', key, value, 'NX')
else stored = redis.call('SET', key, value, 'EX', timeout, 'NX') end
if stored then return 1 end
return 0
"""


# KEYS[1] the generation key; ARGV: key head, tail, delta. Like Django's incr(), a missing
# key (or a tenant with no entries yet) answers nil, which becomes ValueError.
_INCR_SCRIPT: Final = """
local generation = redis.call('GET', KEYS[1])
if not generation then return false end
local key = ARGV[1] .. generation .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return false end
return redis.call('INCRBY', key, ARGV[3])
"""

# KEYS[1] the generation key; ARGV: key head, tail, timeout ('' for none: persist).
_TOUCH_SCRIPT: Final = """
local generation = redis.call('GET', KEYS[1])
if not generation then return 0 end
local key = ARGV[1] .. generation .. ARGV[2]
if ARGV[3] == '' then return redis.call('PERSIST', key) end
return redis.call('EXPIRE', key, ARGV[3])
"""

# KEYS[1] the generation key; ARGV: candidate generation, timeout ('' for none), then a
# head, tail and value for each key.
_SET_MANY_SCRIPT: Final = """
local generation = redis.call('GET', KEYS[1])
if not generation then
    generation = ARGV[1]
    redis.call('SET', KEYS[1], generation)
end
local timeout = ARGV[2]
for i = 3, #ARGV, 3 do
    local key = ARGV[i] .. generation .. ARGV[i + 1]
    if timeout == '0' then redis.call('DEL', key)
    elseif timeout == '' then redis.call('SET', key, ARGV[i + 2])
    else redis.call('SET', key, ARGV[i + 2], 'EX', timeout) end
end
return 1
"""

# KEYS[1] the generation key; ARGV pairs of key heads and tails.
_DELETE_MANY_SCRIPT: Final = """
local generation = redis.call('GET', KEYS[1])
if not generation then return 0 end
local deleted = 0
for i = 1, #ARGV, 2 do
    deleted = deleted + redis.call('DEL', ARGV[i] .. generation .. ARGV[i + 1])
end
return deleted
"""


# EVALSHA names a script by the SHA-1 of its source (computed here once, not per call).
_SCRIPT_SHAS: Final = {
    source: sha1(source.encode(), usedforsecurity=False).hexdigest()
    for source in (
        _EXISTS_SCRIPT,
        _READ_MANY_SCRIPT,
        _WRITE_SCRIPT,
        _INCR_SCRIPT,
        _TOUCH_SCRIPT,
        _SET_MANY_SCRIPT,
        _DELETE_MANY_SCRIPT,
    )
}


class _RedisCacheClient(DjangoRedisCacheClient):
    """Django's Redis client wrapper, keeping one ``redis.Redis`` per connection pool.

    Django's makes a new ``redis.Redis`` for every operation, and redis-py's constructor
    copies its whole table of response callbacks (about 170 entries, each key upper-cased):
    most of the client's work for a ``get``. A ``redis.Redis`` holds no connection of its
    own (it takes one from the pool for each command), so one per pool is safe to share.
    """

    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django's picks the pool (the primary for writes, a replica at random for reads).
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]  # Django's, not in the stubs
        client = self._clients.get(id(pool))  # pools live as long as this object
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]  # Django's, not in the stubs
        return client


class RedisCache(TenantCacheMixin, DjangoRedisCache):
    """Django's ``RedisCache``, tenant-aware (needs ``redis``, imported on first use).

    Inside a tenant every operation but ``clear`` costs one round trip: ``get``,
    ``get_many``, ``has_key``, ``set``, ``add``, ``delete``, ``touch``, ``set_many`` and
    ``delete_many`` as Django's own do, ``incr`` / ``decr`` one fewer (Django checks the key
    exists first). Writes run a Lua script that reads the tenant's generation and uses the
    key built from it on the server (EVALSHA; each script is loaded once per server).

    Reads (``get``, ``get_many``) are a plain ``MGET`` of the generation key and the keys
    built from the generation this object read last: the server answers both at the same
    instant, so when the generation it answers is the remembered one the values are the
    current generation's, exactly as the script would have found them. When it is not
    (another process cleared the tenant, or the generation was lost and made again) the
    read runs the script, which answers the generation with the values, and remembers
    it: that one read costs a second round trip. An object that does not know a tenant's
    generation yet runs the script at once (one round trip).
    """

    def __init__(self, location: Any, params: dict[str, Any]) -> None:
        super().__init__(location, params)
        self._class = _RedisCacheClient  # Django's sets it here, and builds _cache from it
        # Generation key -> (generation as text, as the server answers it): a guess checked
        # by every read, never trusted on its own.
        self._known_generations: dict[str, tuple[str, bytes]] = {}

    def _run(self, source: str, write: bool, keys: list[str], args: list[Any]) -> Any:
        client = self._cache.get_client(keys[0], write=write)
        sha = _SCRIPT_SHAS[source]
        try:
            return client.evalsha(sha, len(keys), *keys, *args)
        except self._cache._lib.exceptions.NoScriptError:  # type: ignore[attr-defined]  # Django's, not in the stubs
            # First use on this server (or it was restarted or SCRIPT FLUSHed).
            client.script_load(source)
            return client.evalsha(sha, len(keys), *keys, *args)

    def _serializer(self) -> Any:
        # Django's client encodes values with it; the scripts must store the same bytes.
        return self._cache._serializer  # type: ignore[attr-defined]  # private, not in the stubs

    def _timeout_argument(self, timeout: float | None) -> str:
        backend_timeout = self.get_backend_timeout(timeout)
        return "" if backend_timeout is None else str(int(backend_timeout))

    def _read(self, generation_key: str, pieces: list[tuple[str, str]]) -> list[Any]:
        """The raw values of the keys ``head + generation + tail``, one or two round trips."""
        known = self._known_generations.get(generation_key)
        if known is not None:
            text, raw = known
            client = self._cache.get_client(generation_key)
            found = client.mget(generation_key, *[head + text + tail for head, tail in pieces])
            if found[0] is None:  # no generation: the tenant has no entries
                return [None] * len(pieces)
            if found[0] == raw:  # read at the same instant as the values: current
                return list(found[1:])
        args = [piece for pair in pieces for piece in pair]
        found = self._run(_READ_MANY_SCRIPT, False, [generation_key], args)
        if not found[0]:
            return [None] * len(pieces)
        self._know(generation_key, found[0])
        return list(found[1:])

    def _know(self, generation_key: str, raw: bytes) -> None:
        if len(self._known_generations) >= _MAX_REMEMBERED_NAMESPACES:
            self._known_generations.clear()
        self._known_generations[generation_key] = (raw.decode(), raw)

    def clear_namespace(self, namespace: str) -> None:
        super().clear_namespace(namespace)
        # Forget the old generation here rather than let the next read find it changed: it
        # runs the script at once (one round trip) instead of a stale MGET first (two).
        self._known_generations.pop(
            self.key_func(namespace, self._generation_prefix, self.version), None
        )

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        parts = self._tenant_key_parts(key, version)
        if parts is None:
            return super().get(key, default, version)
        generation_key, head, tail = parts
        value = self._read(generation_key, [(head, tail)])[0]
        return default if value is None else self._serializer().loads(value)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        keys = list(keys)
        if not keys or len(keys) > _MAX_SCRIPT_KEYS:
            return super().get_many(keys, version=version)
        found = self._all_key_parts(keys, version)
        if found is None:
            return super().get_many(keys, version=version)
        generation_key, pieces = found
        values = self._read(generation_key, pieces)
        loads = self._serializer().loads
        return {
            key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None
        }

    def has_key(self, key: Any, version: int | None = None) -> bool:
        parts = self._tenant_key_parts(key, version)
        if parts is None:
            return super().has_key(key, version)
        generation_key, head, tail = parts
        return bool(self._run(_EXISTS_SCRIPT, False, [generation_key], [head, tail]))

    def _write(
        self, operation: str, parts: tuple[str, str, str], value: Any, timeout: float | None
    ) -> int:
        generation_key, head, tail = parts
        encoded = b"" if operation == "delete" else self._serializer().dumps(value)
        args = [_new_generation(), head, tail, operation, encoded, self._timeout_argument(timeout)]
        return int(self._run(_WRITE_SCRIPT, True, [generation_key], args))

    def set(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        parts = self._tenant_key_parts(key, version)
        if parts is None:
            super().set(key, value, timeout, version)
            return
        self._write("set", parts, value, timeout)

    def add(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        parts = self._tenant_key_parts(key, version)
        if parts is None:
            return bool(super().add(key, value, timeout, version))
        return bool(self._write("add", parts, value, timeout))

    def delete(self, key: Any, version: int | None = None) -> bool:
        parts = self._tenant_key_parts(key, version)
        if parts is None:
            return bool(super().delete(key, version))
        return bool(self._write("delete", parts, None, None))

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        parts = self._tenant_key_parts(key, version)
        if parts is None:
            return int(super().incr(key, delta, version))
        generation_key, head, tail = parts
        value = self._run(_INCR_SCRIPT, True, [generation_key], [head, tail, delta])
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return int(value)

    # decr() is Django's: incr() with -delta.

    def touch(
        self, key: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        parts = self._tenant_key_parts(key, version)
        if parts is None:
            return bool(super().touch(key, timeout, version))
        generation_key, head, tail = parts
        args = [head, tail, self._timeout_argument(timeout)]
        return bool(self._run(_TOUCH_SCRIPT, True, [generation_key], args))

    def _all_key_parts(
        self, keys: Iterable[Any], version: int | None
    ) -> tuple[str, list[tuple[str, str]]] | None:
        """The generation key and each key's head and tail; ``None`` as for one key."""
        generation_key = ""
        pieces: list[tuple[str, str]] = []
        for key in keys:
            parts = self._tenant_key_parts(key, version)
            if parts is None:
                return None
            generation_key = parts[0]
            pieces.append((parts[1], parts[2]))
        return generation_key, pieces

    def set_many(
        self,
        data: dict[Any, Any],
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> list[Any]:
        found = self._all_key_parts(data, version) if data else None
        if found is None:
            return super().set_many(data, timeout=timeout, version=version)
        generation_key, pieces = found
        dumps = self._serializer().dumps
        args: list[Any] = [_new_generation(), self._timeout_argument(timeout)]
        for (head, tail), value in zip(pieces, data.values(), strict=True):
            args += (head, tail, dumps(value))
        self._run(_SET_MANY_SCRIPT, True, [generation_key], args)
        return []

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        keys = list(keys)
        found = self._all_key_parts(keys, version) if keys else None
        if found is None:
            super().delete_many(keys, version=version)
            return
        generation_key, pieces = found
        args = [piece for pair in pieces for piece in pair]
        self._run(_DELETE_MANY_SCRIPT, True, [generation_key], args)


# LOCATION -> generation key -> generation: LocMem's entries live in this process only, so
# their generations can live beside them, read without the cache's lock and pickling.
_locmem_generations: dict[str, dict[str, int]] = {}


class LocMemCache(TenantCacheMixin, DjangoLocMemCache):
    """Django's ``LocMemCache``, tenant-aware; generations are kept beside the entries."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(location, params)
        self._generations = _locmem_generations.setdefault(location, {})
        # The last scope's prefix: (context state, namespace or None when global, the
        # generation the prefix was built with, prefix). States are immutable and reused
        # for a whole scope (a request), so an identity check and one look at the current
        # generation replace rebuilding the prefix on every operation.
        self._last_scope: tuple[ContextState | None, str | None, int, str] = (None, None, 0, "")

    def make_key(self, key: Any, version: int | None = None) -> str:
        """As the mixin's, with the scope's prefix memoised per state and generation."""
        if version is None:
            version = self.version
        state = TenantContext.get_state()
        last = self._last_scope
        if _pin.get() is not None:
            # A bulk call or a generation read fixed the prefix: the mixin's rules.
            return super().make_key(key, version)
        if last[0] is not state or (
            last[1] is not None and self._generations.get(last[1]) != last[2]
        ):
            last = self._last_scope = self._scope_of(state)
        made: str = self.key_func(key, last[3], version)
        return made

    def _scope_of(self, state: ContextState) -> tuple[ContextState, str | None, int, str]:
        tenant = state.tenant
        if tenant is None or state.master:
            return (state, None, 0, self.key_prefix)
        namespace = check_namespace(tenant.cache_namespace)
        # The generation the prefix is built with is the one kept: a clear meanwhile
        # changes it, and the next operation builds the prefix again.
        generation = self._generation(state, namespace)
        return (state, namespace, generation, self._tenant_prefix(namespace, generation))

    def _generation(self, state: ContextState, namespace: str) -> int:
        generation = self._generations.get(namespace)
        if generation is None:
            generation = self._generations.setdefault(namespace, _new_generation())
        return generation

    def clear_namespace(self, namespace: str) -> None:
        self._generations[check_namespace(namespace)] = _new_generation()

    def clear(self) -> None:
        state = TenantContext.get_state()
        if state.tenant is None or state.master:
            self._generations.clear()  # everything goes, as documented
        super().clear()


class FileBasedCache(TenantCacheMixin, DjangoFileBasedCache):
    """Django's ``FileBasedCache``, tenant-aware.

    A generation read costs one ``stat()`` when warm: the cache object keeps the last
    generation it read with the identity of its file (inode, modification time, size).
    Every write of the file replaces it with a new one (Django writes a temporary file and
    renames it), so a ``clear()`` in any process changes that identity and is seen by the
    next operation everywhere.
    """

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(location, params)
        self._known_generations: dict[str, tuple[tuple[int, int, int], int]] = {}
        # Namespace -> the path of its generation's file (a key hashed into a name):
        # computed once per namespace, bounded like the namespaces' lru_cache.
        self._generation_files: dict[str, str] = {}

    def _generation_file(self, namespace: str) -> str:
        key = self.key_func(namespace, self._generation_prefix, self.version)
        name = md5(key.encode(), usedforsecurity=False).hexdigest() + self.cache_suffix
        path: str = os.path.join(self._dir, name)  # type: ignore[attr-defined]  # Django's, not in the stubs
        if len(self._generation_files) >= _MAX_REMEMBERED_NAMESPACES:
            self._generation_files.clear()
        self._generation_files[namespace] = path
        return path

    def _generation(self, state: ContextState, namespace: str) -> int:
        memoised = self._memoised(namespace)
        if memoised is not None:
            return memoised
        path = self._generation_files.get(namespace)
        if path is None:
            path = self._generation_file(namespace)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return super()._generation(state, namespace)
        # Taken before the read: a file replaced meanwhile is read again next time.
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        known = self._known_generations.get(namespace)
        if known is not None and known[0] == identity:
            return known[1]
        generation = super()._generation(state, namespace)
        if len(self._known_generations) >= _MAX_REMEMBERED_NAMESPACES:
            self._known_generations.clear()
        self._known_generations[namespace] = (identity, generation)
        return generation


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
