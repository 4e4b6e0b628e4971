"""``tenant_lru_cache``: ``functools.lru_cache`` with the active tenant in every key.

Django model instances compare and hash by model and primary key only, and primary keys
repeat in every tenant: ``note_of_acme == note_of_globex`` when both have pk 1. A
per-process cache keyed on an instance (``functools.lru_cache``, ``functools.cache``, a
module-level dict) therefore serves one tenant's result for another tenant's object.
omnitenant leaves ``__eq__`` and ``__hash__`` as Django defines them (two instances
loaded in two tenants *are* equal by Django's rules; changing that would need every
tenant-scoped model to inherit from an omnitenant class and would cost a context read
per comparison). Cache per process with this decorator instead::

    @tenant_lru_cache(maxsize=256)
    def summary(note):            # keyed on (active tenant id, note)
        ...

Outside a tenant the key holds ``None`` (the master). ``cache_clear()`` and
``cache_info()`` are those of the underlying ``lru_cache``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from omnitenant_context import TenantContext

__all__ = ["tenant_lru_cache"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_R_co = TypeVar("_R_co", covariant=True)


class TenantCachedFunction(Protocol[_P, _R_co]):
    """The decorated function: callable as before, plus the ``lru_cache`` controls."""

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R_co: ...

    def cache_clear(self) -> None: ...

    def cache_info(self) -> Any: ...


def tenant_lru_cache(
    maxsize: int | None = 128,
) -> Callable[[Callable[_P, _R]], TenantCachedFunction[_P, _R]]:
    """Like ``functools.lru_cache(maxsize)``, with the active tenant id in the key."""

    def decorate(function: Callable[_P, _R]) -> TenantCachedFunction[_P, _R]:
        def call(tenant_id: str | None, *args: Any, **kwargs: Any) -> _R:
            return function(*args, **kwargs)

        # lru_cache's stubs want Hashable arguments; the caller's arguments must be.
        cached = cast("Any", functools.lru_cache(maxsize=maxsize)(call))

        @functools.wraps(function)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            tenant = TenantContext.get_tenant()
            return cast("_R", cached(None if tenant is None else tenant.tenant_id, *args, **kwargs))

        wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]  # lru_cache's API
        wrapper.cache_info = cached.cache_info  # type: ignore[attr-defined]  # lru_cache's API
        return wrapper  # type: ignore[return-value]  # has the Protocol's attributes now

    return decorate
