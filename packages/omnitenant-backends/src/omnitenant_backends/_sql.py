"""SQL helpers: every name reaches SQL through ``psycopg.sql.Identifier``."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from psycopg import sql

from omnitenant_context import check_identifier

__all__ = [
    "qualified",
    "search_path_bytes",
    "search_path_sql",
    "set_search_path_bytes",
    "set_search_path_text",
]


def search_path_sql(schemas: Iterable[str]) -> sql.Composed:
    """``SET search_path TO "a", "b"`` for validated schema names."""
    names = [sql.Identifier(check_identifier(name, what="schema name")) for name in schemas]
    return sql.SQL("SET search_path TO {}").format(sql.SQL(", ").join(names))


@functools.lru_cache(maxsize=4096)
def search_path_bytes(schemas: tuple[str, ...]) -> bytes:
    """:func:`search_path_sql` rendered once per path, for the engine's hot path.

    Composing and rendering the statement costs about as much as sending it; a tenant
    switch on a persistent connection repeats the same few paths over and over. The
    connection's encoding is always UTF-8 (Django sets it) and the names are ASCII, so
    the bytes do not depend on the connection.
    """
    return search_path_sql(schemas).as_bytes(None)


@functools.lru_cache(maxsize=4096)
def set_search_path_text(schemas: tuple[str, ...], *, local: bool, read_only: bool = False) -> str:
    """``SELECT set_config('search_path', '"a", "b"', local)`` rendered once per path.

    A function call rather than ``SET``: an ordinary statement that can travel in one
    message (one round trip) ahead of the statement it is for. With ``local`` the path
    ends with the current transaction (the implicit one of an autocommit statement or a
    multi-statement message too), which is what a transaction-mode pooler needs. With
    ``read_only`` the same ``SELECT`` also makes the current transaction read-only
    (``transaction_read_only``, which may always be switched on, never back off in a
    transaction that has run a query). The text holds no ``%``, so it can precede a
    statement whose parameters are merged client-side.
    """
    names = [sql.Identifier(check_identifier(name, what="schema name")) for name in schemas]
    value = sql.SQL(", ").join(names).as_string(None)
    statement = sql.SQL("SELECT pg_catalog.set_config('search_path', {}, {})").format(
        sql.Literal(value), sql.SQL("true" if local else "false")
    )
    if read_only:
        statement += sql.SQL(", pg_catalog.set_config('transaction_read_only', 'on', true)")
    return statement.as_string(None)


@functools.lru_cache(maxsize=4096)
def set_search_path_bytes(schemas: tuple[str, ...], *, local: bool) -> bytes:
    """:func:`set_search_path_text` as bytes (names are ASCII; Django's encoding is UTF-8)."""
    return set_search_path_text(schemas, local=local).encode()


def qualified(schema: str, name: str) -> sql.Identifier:
    """``"schema"."name"``."""
    return sql.Identifier(schema, name)
