"""SQL helpers: every name reaches SQL through ``psycopg.sql.Identifier``."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from psycopg import sql

from omnitenant_context import check_identifier

__all__ = [
    "path_prefix",
    "qualified",
    "search_path_bytes",
    "search_path_sql",
    "set_search_path_bytes",
    "set_search_path_text",
]


def search_path_sql(schemas: Iterable[str], *, local: bool = False) -> sql.Composed:
    """``SET [LOCAL] search_path TO "a", "b"`` for validated schema names."""
    names = [sql.Identifier(check_identifier(name, what="schema name")) for name in schemas]
    command = "SET LOCAL search_path TO {}" if local else "SET search_path TO {}"
    return sql.SQL(command).format(sql.SQL(", ").join(names))


#: Makes the current transaction read-only; ``SET LOCAL``: it ends with the transaction.
SET_READ_ONLY_TRANSACTION = "SET LOCAL transaction_read_only TO on"


@functools.lru_cache(maxsize=4096)
def path_prefix(schemas: tuple[str, ...], *, local: bool, read_only: bool = False) -> str:
    """The statements that give a simple query its path, rendered once per path.

    ``SET [LOCAL] search_path TO "a", "b"``, preceded with ``read_only`` by
    ``SET LOCAL transaction_read_only TO on``; the engine sends them in the same simple
    query as the statement they are for (one message, one round trip, one implicit
    transaction). ``SET`` rather than ``SELECT set_config(...)``: a utility statement is
    neither planned nor answered with a row description and a row, which saves the
    server about a third of the cost of the path change (measured in issue 13).

    With ``local`` the path ends with the current transaction: an explicit one, or the
    implicit transaction block PostgreSQL opens for a simple query holding several
    statements (``SET LOCAL`` is honoured there, and undone after the message), which
    is what a transaction-mode pooler needs. Without it a rolled-back transaction
    (implicit ones included) still takes the ``SET`` back. Not for extended-protocol
    statements (a pipeline): outside a transaction block ``SET LOCAL`` warns there;
    :func:`set_search_path_text` is for them. The text holds no ``%``, so it can precede
    a statement whose parameters are merged client-side.
    """
    path = search_path_sql(schemas, local=local).as_string(None)
    return f"{SET_READ_ONLY_TRANSACTION}; {path}" if read_only else path


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

    For a psycopg pipeline (extended protocol), where each statement is a message of its
    own and the statements up to the ``Sync`` share an implicit transaction that is not
    a transaction block: a function call sets a transaction-local value there without
    the warning ``SET LOCAL`` gives. Simple queries use the cheaper :func:`path_prefix`.
    With ``local`` the path ends with the current transaction (the implicit one up to
    the ``Sync`` included), which is what a transaction-mode pooler needs. With
    ``read_only`` the same ``SELECT`` also makes the current transaction read-only
    (``transaction_read_only``, which may always be switched on, never back off in a
    transaction that has run a query).
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
