"""The process-wide, bounded set of database tenants' connections.

Django's connection handler walks every alias of its settings several times per request
(``close_old_connections`` at request start and end, ``reset_queries``, ``ATOMIC_REQUESTS``).
So a tenant's alias is in the handler's settings only while some thread *holds* a
connection object for it, and the number of holdings in the process is bounded by
``MAX_OPEN_TENANT_CONNECTIONS``: every walk Django makes is over at most that many tenant
aliases, however many tenants the process has served.

A holding is one thread's connection object for one alias. When a new holding takes the
process past the bound, the least recently used holdings are released:

* one of the current thread's is closed at once, unless it is *in use*: inside a
  transaction, or with a cursor still open (an unfinished ``.iterator()``, a cursor the
  code keeps). A connection in use is never closed; the bound is exceeded instead until it
  is free again.
* one of another thread's is marked; that thread closes it itself the next time it takes a
  new holding, or at the end of its request (a Django connection may only be closed by the
  thread that uses it).

Thread-safety: the registry is guarded by one lock, taken only when a thread starts using
an alias it does not hold yet; the warm path (the same tenant again) takes no lock.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = [
    "forget_alias",
    "hold",
    "holdings_count",
    "is_in_use",
    "release_idle",
    "release_requested",
]

logger = logging.getLogger("omnitenant.backends")

_lock = threading.Lock()
# (thread ident, alias) -> the thread's connection object, least recently used first.
_held: OrderedDict[tuple[int, str], weakref.ref[BaseDatabaseWrapper]] = OrderedDict()
# alias -> how many threads hold it; the alias leaves the handler's settings at zero.
_holders: dict[str, int] = {}
# thread ident -> aliases another thread asked it to release.
_requested: dict[int, set[str]] = {}
# Per thread, the alias used last: the warm path returns at once when it is asked again.
_last = threading.local()


def _thread_connections() -> Any:
    """The handler's per-thread store of connection objects (asgiref ``Local``)."""
    return connections._connections  # type: ignore[attr-defined]  # Django's private store, not in the stubs


# The attribute of a tracked connection object that holds its live raw cursors.
_CURSORS = "_omnitenant_cursors"


def hold(alias: str, entry: dict[str, Any], limit: int) -> None:
    """Make sure the current thread holds ``alias`` (configured as ``entry``).

    Cheap when the thread used ``alias`` last; otherwise registers the alias with the
    connection handler if needed, marks it most recently used and releases holdings past
    ``limit``.
    """
    if getattr(_last, "alias", None) == alias:
        return
    _hold_slow(alias, entry, limit)
    _last.alias = alias


def _hold_slow(alias: str, entry: dict[str, Any], limit: int) -> None:
    me = threading.get_ident()
    key = (me, alias)
    with _lock:
        current = _held.get(key)
        wrapper = getattr(_thread_connections(), alias, None)
        if current is not None and wrapper is not None and current() is wrapper:
            _held.move_to_end(key)
        else:
            if current is not None:  # a dead thread's holding under a reused ident
                _forget(key)
            _add_alias_setting(alias, entry)
            _holders[alias] = _holders.get(alias, 0) + 1
            wrapper = connections[alias]
            _track_cursors(wrapper)
            _held[key] = weakref.ref(wrapper)
        to_close = _take_requested(me) + _over_limit(key, limit)
    _close_own(to_close)


def _add_alias_setting(alias: str, entry: dict[str, Any]) -> None:
    handler_settings = connections.settings
    if handler_settings is settings.DATABASES:
        # First registration: give the handler its own copy, so settings.DATABASES
        # (shared by everything that reads settings) is never edited.
        handler_settings = dict(handler_settings)
        connections.__dict__["settings"] = handler_settings
    handler_settings[alias] = entry


def _forget(key: tuple[int, str]) -> None:
    """Drop one holding (lock held); the alias leaves the settings with its last one."""
    if _held.pop(key, None) is None:
        return
    alias = key[1]
    count = _holders.get(alias, 1) - 1
    if count > 0:
        _holders[alias] = count
    else:
        _holders.pop(alias, None)
        connections.settings.pop(alias, None)


def _take_requested(me: int) -> list[tuple[str, BaseDatabaseWrapper]]:
    """The current thread's holdings other threads asked it to release (lock held)."""
    aliases = _requested.pop(me, None)
    if not aliases:
        return []
    released: list[tuple[str, BaseDatabaseWrapper]] = []
    keep: set[str] = set()
    for alias in aliases:
        key = (me, alias)
        ref = _held.get(key)
        wrapper = None if ref is None else ref()
        if wrapper is not None and is_in_use(wrapper):
            keep.add(alias)  # asked again next time
            continue
        _forget(key)
        if wrapper is not None:
            released.append((alias, wrapper))
    if keep:
        _requested[me] = keep
    return released


def _over_limit(current: tuple[int, str], limit: int) -> list[tuple[str, BaseDatabaseWrapper]]:
    """Release the least recently used holdings past ``limit`` (lock held).

    Returns the current thread's connections to close (after the lock is released).
    """
    excess = len(_held) - limit
    if excess <= 0:
        return []
    me = current[0]
    to_close: list[tuple[str, BaseDatabaseWrapper]] = []
    for key, ref in list(_held.items()):
        if excess <= 0:
            break
        if key == current:
            continue
        wrapper = ref()
        if wrapper is None:  # its thread has ended
            _forget(key)
            excess -= 1
        elif key[0] == me:
            if not is_in_use(wrapper):
                _forget(key)
                to_close.append((key[1], wrapper))
                excess -= 1
        else:
            requested = _requested.setdefault(key[0], set())
            if key[1] not in requested:
                requested.add(key[1])
            excess -= 1
    return to_close


def _close_own(released: list[tuple[str, BaseDatabaseWrapper]]) -> None:
    for alias, wrapper in released:
        try:
            wrapper.close()
        except Exception:  # an idle connection that fails to close is gone anyway
            logger.warning("closing the idle connection of %s failed", alias, exc_info=True)
        # The handler forgets the object, so a later use of the alias starts a holding.
        if getattr(_thread_connections(), alias, None) is wrapper:
            delattr(_thread_connections(), alias)
        if getattr(_last, "alias", None) == alias:
            _last.alias = None


def release_requested(**_signal: object) -> None:
    """Close the current thread's connections other threads asked it to release.

    Connected to ``request_finished`` itself (the signal's arguments are ignored; no
    frame around it on every request); also runs whenever the thread takes a new holding.
    """
    me = threading.get_ident()
    if me not in _requested:  # no lock on the common path: nothing asked
        return
    with _lock:
        released = _take_requested(me)
    _close_own(released)


def release_idle() -> None:
    """Close every tenant connection of the current thread that is not in use."""
    me = threading.get_ident()
    with _lock:
        released: list[tuple[str, BaseDatabaseWrapper]] = []
        for key, ref in list(_held.items()):
            if key[0] != me:
                continue
            wrapper = ref()
            if wrapper is None or not is_in_use(wrapper):
                _forget(key)
                if wrapper is not None:
                    released.append((key[1], wrapper))
        _requested.pop(me, None)
    _close_own(released)


def forget_alias(alias: str) -> None:
    """Close the current thread's connection to ``alias`` and drop every holding of it."""
    me = threading.get_ident()
    with _lock:
        mine = None
        for key in [key for key in _held if key[1] == alias]:
            if key[0] == me:
                mine = _held[key]()
            _forget(key)
        connections.settings.pop(alias, None)
        _holders.pop(alias, None)
    wrapper = getattr(_thread_connections(), alias, None)
    if wrapper is not None or mine is not None:
        _close_own([(alias, wrapper or mine)])  # type: ignore[list-item]  # one is not None


def holdings_count() -> int:
    """How many tenant connection objects the process holds (for tests and benches)."""
    return len(_held)


# -- in use ---------------------------------------------------------------------------


def is_in_use(wrapper: BaseDatabaseWrapper) -> bool:
    """Whether closing ``wrapper`` now could break code using it.

    In use: inside a transaction (``atomic()``), or with a raw cursor still alive that is
    not closed (an unfinished ``.iterator()`` or server-side cursor, a cursor the code
    keeps).
    """
    if wrapper.in_atomic_block:
        return True
    cursors: weakref.WeakSet[Any] | None = wrapper.__dict__.get(_CURSORS)
    return bool(cursors) and any(not getattr(c, "closed", False) for c in list(cursors or ()))


def _track_cursors(wrapper: BaseDatabaseWrapper) -> None:
    """Remember the raw cursors ``wrapper`` makes, weakly, to tell whether it is in use.

    Only on connection objects of tenant aliases, which this module owns; sqlite3 cursors
    have no ``closed`` flag, so a live one counts as open (Django drops its own cursors
    as soon as a query's rows are read).
    """
    if _CURSORS in wrapper.__dict__:
        return
    cursors: weakref.WeakSet[Any] = weakref.WeakSet()
    create_cursor = wrapper.create_cursor

    def tracked_create_cursor(name: Any = None) -> Any:
        cursor = create_cursor(name)
        cursors.add(cursor)
        return cursor

    wrapper.__dict__[_CURSORS] = cursors
    wrapper.create_cursor = tracked_create_cursor  # type: ignore[method-assign]  # this object only
