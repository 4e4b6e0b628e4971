"""``BaseTenantResolver`` of the Django app: the cached ORM store by default.

Subclass it as the API reference shows; ``self.store`` is the process-wide cached store
(:func:`django_omnitenant.stores.get_tenant_store`) unless a store is passed explicitly::

    from django_omnitenant.resolvers.base import BaseTenantResolver

    class CustomResolver(BaseTenantResolver):
        def resolve(self, request):
            return self.store.get_by_id(request.headers.get("X-Customer", ""))
"""

from __future__ import annotations

from collections.abc import Callable

from omnitenant_context import TenantStore
from omnitenant_resolvers import BaseTenantResolver as _FrameworkFreeResolver

__all__ = ["BaseTenantResolver", "DjangoStoreMixin"]


class DjangoStoreMixin:
    """Falls back to the Django app's cached ORM store when no store was passed."""

    _store: TenantStore | None

    @property
    def store(self) -> TenantStore:
        if self._store is not None:
            return self._store
        return _process_store()


def _process_store() -> TenantStore:
    global _get_tenant_store  # noqa: PLW0603 - the import, done once (it needs the apps)
    if _get_tenant_store is None:
        from django_omnitenant.stores import get_tenant_store  # noqa: PLC0415 - needs apps

        _get_tenant_store = get_tenant_store
    return _get_tenant_store()


_get_tenant_store: Callable[[], TenantStore] | None = None


class BaseTenantResolver(DjangoStoreMixin, _FrameworkFreeResolver):
    """Base class of resolvers for Django; see :class:`omnitenant_resolvers.BaseTenantResolver`."""
