"""Django's ContentType cache, keyed by the storage behind an alias instead of the alias.

``ContentType.objects`` caches content types per connection alias, for the life of the
process. The master and every schema tenant share one alias (``default``) but not one
``django_content_type`` table: ids differ between the master and a tenant, and between
tenants created before and after an app was added. Keyed by alias alone, a lookup made
in one scope answers in another (a page stored with the master's content-type id; a
``DoesNotExist`` answered as a 500 by a tenant that was never wrong).

:class:`TenantKeyedCache` replaces the manager's cache dict, from ``ready()`` (see
:func:`install_content_type_cache`): the key is the alias together with the
``search_path`` its connection has in the current context (the path the omnitenant engine
sets, memoised per context state), so each schema gets its own entries and a warm lookup stays two
dictionary reads and one context-variable read. Database tenants have aliases of their
own, which already keep them apart.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from omnitenant_backends import is_schema_exclusive, is_tenant_database_alias
from omnitenant_backends.postgresql.base import wanted_search_path
from omnitenant_context import ContextState, TenantContext

__all__ = [
    "TenantKeyedCache",
    "install_content_type_cache",
    "storage_key",
    "uninstall_content_type_cache",
]

StorageKey = tuple[str, tuple[str, ...]]

# The last (alias, context state, exclusive flag) seen and its key: states are immutable
# and reused for a whole scope, so a warm lookup costs an identity check, not a path.
_memo: tuple[str, ContextState, bool, StorageKey] | None = None


def storage_key(alias: str) -> StorageKey:
    """The alias and the ``search_path`` its connection has in the current context.

    The same path the omnitenant engine sets (:func:`wanted_search_path`), computed
    without touching the connection: each schema behind ``default`` gets its own key.
    """
    global _memo  # noqa: PLW0603 - a one-entry memo, replaced whole (atomic)
    state = TenantContext.get_state()
    exclusive = is_schema_exclusive()
    memo = _memo
    if memo is not None and memo[1] is state and memo[0] == alias and memo[2] is exclusive:
        return memo[3]
    key = (
        alias,
        wanted_search_path(
            state, tenant_database=is_tenant_database_alias(alias), exclusive=exclusive
        ),
    )
    _memo = (alias, state, exclusive, key)
    return key


class TenantKeyedCache(MutableMapping[str, dict[Any, Any]]):
    """A mapping from alias to cache entries, seen through the current tenant context.

    ``cache[alias]`` is the dict of the storage ``alias`` reaches right now; other
    storages' entries are invisible (iteration included). :meth:`clear` forgets every
    storage's entries, as Django's ``ContentTypeManager.clear_cache()`` expects.
    """

    def __init__(self) -> None:
        self._by_storage: dict[StorageKey, dict[Any, Any]] = {}

    def __getitem__(self, alias: str) -> dict[Any, Any]:
        return self._by_storage[storage_key(alias)]

    def __setitem__(self, alias: str, entries: dict[Any, Any]) -> None:
        self._by_storage[storage_key(alias)] = entries

    def __delitem__(self, alias: str) -> None:
        del self._by_storage[storage_key(alias)]

    def setdefault(self, alias: str, default: Any = None) -> Any:
        # One key computation instead of MutableMapping's two (read, then write).
        return self._by_storage.setdefault(storage_key(alias), default)

    def __iter__(self) -> Iterator[str]:
        # The aliases whose entries belong to the storage each reaches right now.
        stored = list(self._by_storage)
        return iter([key[0] for key in stored if storage_key(key[0]) == key])

    def __len__(self) -> int:
        return sum(1 for _alias in self)

    def clear(self) -> None:
        self._by_storage.clear()


def _managers() -> list[Any]:
    from django.contrib.contenttypes.models import ContentType  # noqa: PLC0415 - apps ready

    # ContentType.objects is the model's copy of the manager (Options.managers); the
    # class attribute keeps the original, which db_manager() copies may start from.
    original = ContentType.__dict__["objects"].manager
    return [ContentType.objects, original]


def install_content_type_cache() -> None:
    """Give ``ContentType.objects`` a tenant-keyed cache (idempotent)."""
    managers = _managers()
    if all(isinstance(manager._cache, TenantKeyedCache) for manager in managers):
        return
    cache = TenantKeyedCache()
    for manager in managers:
        manager._cache = cache


def uninstall_content_type_cache() -> None:
    """Give ``ContentType.objects`` back a plain dict (as Django makes it)."""
    plain: dict[str, Any] = {}
    for manager in _managers():
        manager._cache = plain
