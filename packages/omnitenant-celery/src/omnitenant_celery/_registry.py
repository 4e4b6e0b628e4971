"""Which Celery apps are installed, with the tenant store and tenant-id source of each."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from celery import Celery

from omnitenant_context import TenantStore

__all__ = ["Installation", "forget", "get_installation", "has_installations", "remember"]


@dataclass(frozen=True, slots=True)
class Installation:
    """What :func:`omnitenant_celery.install` was given for one app."""

    store: TenantStore
    tenant_ids: Callable[[], Iterable[str]] | None


# Weak keys: an app that is dropped (tests create many) takes its installation with it.
_installations: weakref.WeakKeyDictionary[Celery, Installation] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def remember(app: Celery, installation: Installation) -> None:
    with _lock:
        _installations[app] = installation


def forget(app: Celery) -> bool:
    """Drop ``app``'s installation; return whether any installation is left."""
    with _lock:
        _installations.pop(app, None)
        return len(_installations) > 0


def get_installation(app: Celery) -> Installation | None:
    # Read without the lock: a dict lookup is atomic, and this runs once per task.
    return _installations.get(app)


def has_installations() -> bool:
    return len(_installations) > 0
