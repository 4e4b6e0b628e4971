"""Connection affinity: a few open connections per wrapper, each staying on its path.

Opt-in with ``DATABASES[alias]["OMNITENANT_AFFINITY"] = k``. A persistent connection that
switches tenant sends ``SET search_path`` with the next statement (no extra round trip, but
the server's work on a path change remains). With affinity, the wrapper (one per thread and
alias, as Django makes them) keeps up to ``k`` server connections; a switch outside a
transaction picks the one already on the wanted path, and sends nothing more. The others
wait here, *parked*, each under the path the server is known to have on it.

Experimental: callgrind's count shows the server doing plain Django's work per statement,
but timed on the development VM the server spent more CPU with a connection per tenant
than with the ``SET`` (each backend's memory has to come back into the CPU's caches when
its turn comes; docs/performance.md, "Connection affinity, timed").

What it costs: up to ``k`` server connections per thread that serves requests, per alias.
It helps while the tenants (and the master, for master-scoped models) a thread moves
between fit in ``k``; beyond that, the least recently used parked connection takes the new
path with a ``SET`` as without affinity.

Only what is certain is parked: a connection outside any transaction whose libpq status is
good, under the path the server has on it (or as "unknown", after a rollback, say: the next
statement on it then carries its path). One the server closed while it was parked (its socket became
readable while it had nothing to say) is dropped when it is picked, not used.
"""

from __future__ import annotations

import select
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Final, cast

from psycopg import pq

from omnitenant_backends.conf import OmnitenantConfigurationError

__all__ = ["AFFINITY_KEY", "ParkedConnections", "affinity_size", "one_connection", "usable"]

#: Key in a ``DATABASES`` entry: how many server connections a wrapper may keep, one per path.
AFFINITY_KEY: Final = "OMNITENANT_AFFINITY"

_IDLE = pq.TransactionStatus.IDLE
_OK = pq.ConnStatus.OK


def affinity_size(settings_dict: dict[str, Any], alias: str, *, transaction_pooling: bool) -> int:
    """How many connections a wrapper of ``alias`` may keep (1: affinity off)."""
    size = settings_dict.get(AFFINITY_KEY)
    if size is None:
        return 1
    where = f"DATABASES[{alias!r}][{AFFINITY_KEY!r}]"
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise OmnitenantConfigurationError(
            f"{where} is {size!r}; use a whole number of connections, 2 or more "
            "(1 or None: no affinity)."
        )
    if size == 1:
        return 1
    problem = None
    if (settings_dict.get("OPTIONS") or {}).get("pool"):
        problem = "Django's pool (OPTIONS['pool']) decides which connection a request gets"
    elif transaction_pooling:
        problem = "behind a transaction-mode pooler no path survives a transaction"
    elif settings_dict.get("CONN_MAX_AGE", 0) == 0:
        problem = (
            "with CONN_MAX_AGE = 0 every connection closes at the end of its request, so "
            "it would only open more connections per request"
        )
    if problem is not None:
        raise OmnitenantConfigurationError(f"{where} is {size}, but {problem}; remove it.")
    return size


def one_connection(connection: Any) -> AbstractContextManager[None]:
    """A block whose statements on ``connection`` (a Django wrapper) share one session.

    The omnitenant engine's ``DatabaseWrapper.omnitenant_pinned()``; nothing for any
    other engine (they keep one connection anyway).
    """
    pinned = getattr(connection, "omnitenant_pinned", None)
    return nullcontext() if pinned is None else cast("AbstractContextManager[None]", pinned())


def usable(raw: Any) -> bool:
    """Whether a parked connection may still be used, without a round trip.

    An idle connection has nothing to read: readable means the server (or a pooler) sent
    its goodbye, or closed the socket. (A closed psycopg connection's status is bad.)
    """
    pgconn = raw.pgconn
    if pgconn.status != _OK or pgconn.transaction_status != _IDLE:
        return False
    readable, _, _ = select.select([pgconn.socket], [], [], 0)
    return not readable


def _usable_or_closed(raw: Any) -> Any | None:
    """``raw`` if it is :func:`usable`; else it is closed, and ``None``."""
    if usable(raw):
        return raw
    raw.close()
    return None


class ParkedConnections:
    """The wrapper's other connections, by path, least recently parked first.

    The caller parks only a connection outside any transaction; whether it is still
    usable is checked when it is taken. Nothing usable is ever closed here but by
    :meth:`close_all`: a parked connection may hold session state its user still needs
    (a session lock, a cursor ``WITH HOLD``).
    """

    def __init__(self) -> None:
        self._by_path: dict[tuple[str, ...], Any] = {}
        # Connections whose path is unknown (after a rollback, say), or a second one on a
        # path another already holds: usable for any path, with a SET.
        self._unknown: list[Any] = []

    def __len__(self) -> int:
        return len(self._by_path) + len(self._unknown)

    def exchange(self, raw: Any, path: tuple[str, ...] | None, wanted: tuple[str, ...]) -> Any:
        """Park ``raw`` (on ``path``) for the usable connection on ``wanted``, if any.

        The hot path of a switch: returns ``None``, and parks nothing, when there is none.
        """
        target = self.take(wanted)
        if target is not None:
            self.park(raw, path)
        return target

    def park(self, raw: Any, path: tuple[str, ...] | None) -> None:
        """Keep ``raw``, on ``path`` (``None``: unknown)."""
        if path is None or path in self._by_path:
            self._unknown.append(raw)
        else:
            self._by_path[path] = raw

    def take(self, path: tuple[str, ...] | None) -> Any | None:
        """The parked connection on ``path`` (``None``: any of unknown path), if usable."""
        if path is not None:
            raw = self._by_path.pop(path, None)
            return None if raw is None else _usable_or_closed(raw)
        while self._unknown:
            raw = _usable_or_closed(self._unknown.pop())
            if raw is not None:
                return raw
        return None

    def take_least_recent(self) -> tuple[tuple[str, ...], Any] | None:
        """The connection parked on a path longest ago, with it; dead ones are dropped."""
        while self._by_path:
            path = next(iter(self._by_path))
            raw = _usable_or_closed(self._by_path.pop(path))
            if raw is not None:
                return path, raw
        return None

    def close_all(self) -> None:
        parked = [*self._by_path.values(), *self._unknown]
        self._by_path.clear()
        self._unknown.clear()
        for raw in parked:
            raw.close()
