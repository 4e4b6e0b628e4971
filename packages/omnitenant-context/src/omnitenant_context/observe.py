"""Measurements of the library, for whoever listens (``django_omnitenant.otel``).

The packages report what happened at a few places: a tenant lookup (hit or miss, with
its latency), a ``search_path`` switch, a tenant's provisioning (its duration and
outcome), the start of a tenant-aware Celery task, each tenant's result in a fleet
migration. With no observer registered
- the default - reporting is one check of an empty tuple; nothing is timed. Observers are
added explicitly (``add_observer``), never at import time.

Events (``name``: ``value``; attributes):

* ``"lookup"``: seconds the lookup took; ``kind`` (``"id"``/``"domain"``), ``result``
  (``"hit"``/``"miss"``).
* ``"path_switch"``: ``1``; none.
* ``"provisioning"``: seconds; ``isolation_type``, ``outcome`` (``"succeeded"``/``"failed"``).
* ``"task_start"``: ``1``; ``task`` (its name). A tenant-aware Celery task's body is
  about to run: its tenant and any task span of a tracing integration are current.
* ``"fleet_migration"``: seconds the tenant's migration took (``0`` when it did not run);
  ``result`` (``"up to date"``, ``"migrated"``, ``"failed"``, ``"timed out"``,
  ``"locked"``, ``"not started"``). One per tenant of a ``migratealltenants`` run.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

__all__ = ["Observer", "add_observer", "emit", "observing", "remove_observer"]


@runtime_checkable
class Observer(Protocol):
    """Hears every event; must be fast and must not raise."""

    def observe(self, event: str, value: float, attributes: Mapping[str, str]) -> None: ...


# Swapped whole (never mutated) so the hot path reads it without the lock.
_observers: tuple[Observer, ...] = ()
_lock = threading.Lock()


def observing() -> bool:
    """Whether any observer listens (reporters skip timing when none does)."""
    return bool(_observers)


def emit(event: str, value: float = 1.0, **attributes: str) -> None:
    """Report ``event`` to every observer; nothing when none is registered."""
    for observer in _observers:
        observer.observe(event, value, attributes)


def add_observer(observer: Observer) -> None:
    """Register ``observer``; adding it twice has no effect."""
    global _observers  # noqa: PLW0603 - swapped whole so readers need no lock
    with _lock:
        if observer not in _observers:
            _observers = (*_observers, observer)


def remove_observer(observer: Observer) -> None:
    """Unregister ``observer``; removing one that is not registered has no effect."""
    global _observers  # noqa: PLW0603 - swapped whole so readers need no lock
    with _lock:
        _observers = tuple(item for item in _observers if item is not observer)
