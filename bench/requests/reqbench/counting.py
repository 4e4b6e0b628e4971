"""Counting every statement a process sends to its databases.

PostgreSQL: :func:`install` wraps psycopg itself, below Django, so a statement is counted
whoever sends it: Django's cursor wrappers, a raw ``connection.connection.cursor()`` (where
omnitenant and django-tenants send their ``SET search_path``), ``Connection.execute()``, and
the ``BEGIN`` / ``COMMIT`` / ``ROLLBACK`` psycopg sends on its own. Every one of them is a
round trip to the server.

SQLite (database tenants on files): :class:`CountingSQLiteConnection` is passed as the
``factory`` of ``sqlite3.connect`` through ``DATABASES[...]["OPTIONS"]`` and counts what the
SQLite library runs (there is no server; these cost no round trip).

New connections are counted too (``psycopg.connect`` and SQLite connections).

Counting only appends the statement object to a list (the same few hundred nanoseconds in
every variant); :func:`take` classifies them after the timed part.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import Any

_seen: list[object] = []
_connections: list[int] = [0]
_installed = False


def _wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    def counted(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        _seen.append(query)
        return original(self, query, *args, **kwargs)

    counted.__name__ = original.__name__
    counted.__qualname__ = original.__qualname__
    counted.__doc__ = original.__doc__
    return counted


def _wrap_many(original: Callable[..., Any]) -> Callable[..., Any]:
    def counted(self: Any, query: Any, params_seq: Any, *args: Any, **kwargs: Any) -> Any:
        params_seq = list(params_seq)
        _seen.extend([query] * max(len(params_seq), 1))
        return original(self, query, params_seq, *args, **kwargs)

    counted.__name__ = original.__name__
    counted.__qualname__ = original.__qualname__
    return counted


def install() -> None:
    """Wrap psycopg's cursor and connection so each statement sent is recorded."""
    global _installed  # noqa: PLW0603 - one installation per process
    if _installed:
        return
    import psycopg
    from psycopg import _connection_base

    for name in ("execute", "stream", "copy"):
        setattr(psycopg.Cursor, name, _wrap(getattr(psycopg.Cursor, name)))
    psycopg.Cursor.executemany = _wrap_many(psycopg.Cursor.executemany)  # type: ignore[method-assign]
    base = _connection_base.BaseConnection
    # BEGIN, COMMIT, ROLLBACK (and SAVEPOINT from Connection.transaction()).
    base._exec_command = _wrap(base._exec_command)  # type: ignore[method-assign]
    connect = psycopg.Connection.connect.__func__  # type: ignore[attr-defined]

    def counted_connect(cls: Any, *args: Any, **kwargs: Any) -> Any:
        _connections[0] += 1
        return connect(cls, *args, **kwargs)

    psycopg.Connection.connect = classmethod(counted_connect)  # type: ignore[method-assign, assignment]
    psycopg.connect = psycopg.Connection.connect  # the module's alias, used by Django
    _installed = True


class CountingSQLiteConnection(sqlite3.Connection):
    """``sqlite3.Connection`` recording every statement SQLite runs on it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _connections[0] += 1
        self.set_trace_callback(_seen.append)


def reset() -> None:
    """Forget what was recorded so far."""
    _seen.clear()
    _connections[0] = 0


def take_connections() -> int:
    """Return how many connections were opened since the last call, and forget them."""
    opened, _connections[0] = _connections[0], 0
    return opened


def take() -> Counter[str]:
    """Return the statements recorded since the last call, by kind, and forget them."""
    kinds: Counter[str] = Counter(_kind(query) for query in _seen)
    _seen.clear()
    return kinds


def _kind(query: object) -> str:
    if isinstance(query, bytes):
        text = query.decode(errors="replace")
    elif isinstance(query, str):
        text = query
    else:
        # psycopg.sql.Composed and friends: rendered without a connection.
        text = _render(query)
    while text[:4].upper() == "SET " and "; " in text:
        # omnitenant's path (and read-only) SETs in front of the statement they are for,
        # in its message: the statement's kind counts.
        text = text.partition("; ")[2]
    words = text.split(None, 2)
    if not words:
        return "?"
    first = words[0].upper()
    if first == "SET" and len(words) > 1:
        return f"SET {words[1].split('=')[0].upper()}"
    return first


def _render(query: object) -> str:
    from psycopg import sql

    if isinstance(query, sql.Composed):
        return "".join(_render(part) for part in query)
    if isinstance(query, sql.SQL):
        return query.as_string()
    if isinstance(query, sql.Identifier | sql.Literal):
        return "x"
    return str(query)
