"""Django signals sent through a tenant's life cycle.

Every signal is sent with ``sender`` = the tenant's class and ``tenant`` = the tenant.
``django_omnitenant.signals`` re-exports them under the names of the API reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

__all__ = [
    "WatchedSignal",
    "tenant_activated",
    "tenant_created",
    "tenant_deactivated",
    "tenant_deleted",
    "tenant_migrated",
    "tenant_state_changed",
]


class WatchedSignal(Signal):
    """A signal that tells its watchers whenever a receiver connects or disconnects.

    For signals sent on a hot path only while someone listens: the sender keeps its own
    hook registered only while the signal has receivers, so with none the hot path
    calls nothing at all (``tenant_activated`` / ``tenant_deactivated``, sent on every
    switch of the context).
    """

    def __init__(self) -> None:
        super().__init__()
        self._watchers: tuple[Callable[[], None], ...] = ()

    def watch(self, watcher: Callable[[], None]) -> None:
        """Call ``watcher`` after every connect and disconnect (once per watcher)."""
        if watcher not in self._watchers:
            self._watchers = (*self._watchers, watcher)

    def unwatch(self, watcher: Callable[[], None]) -> None:
        """Stop calling ``watcher``."""
        self._watchers = tuple(item for item in self._watchers if item != watcher)

    def connect(
        self,
        receiver: Callable[..., Any],
        sender: object | None = None,
        weak: bool = True,
        dispatch_uid: object | None = None,
    ) -> None:
        super().connect(receiver, sender, weak, dispatch_uid)
        for watcher in self._watchers:
            watcher()

    def disconnect(
        self,
        receiver: Callable[..., Any] | None = None,
        sender: object | None = None,
        dispatch_uid: object | None = None,
    ) -> bool:
        disconnected = super().disconnect(receiver, sender, dispatch_uid)
        for watcher in self._watchers:
            watcher()
        return disconnected


#: After a tenant's storage was provisioned and its migrations finished, with ``domains``:
#: the tenant's saved domain names, primary first. A receiver that raises makes the
#: creation fail and be rolled back, so receivers may seed data.
tenant_created = Signal()

#: After migrations were applied to a tenant's storage, also when a new tenant's storage
#: was migrated, cloned from the template or claimed from the warm pool (then with
#: ``created=True``).
tenant_migrated = Signal()

#: After a tenant's storage was retired. ``dropped`` says whether data was dropped.
tenant_deleted = Signal()

#: When code enters a tenant (``TenantContext.use_tenant``). Sent only while a receiver
#: is connected, and then on every switch: keep receivers fast.
tenant_activated = WatchedSignal()

#: When code leaves a tenant.
tenant_deactivated = WatchedSignal()

#: After a tenant moved from one lifecycle state to another (``previous`` and ``state``
#: are the status values; see ``django_omnitenant.provisioning``). Sent inside the
#: transaction that changes the state: a receiver that raises undoes the change.
tenant_state_changed = Signal()
