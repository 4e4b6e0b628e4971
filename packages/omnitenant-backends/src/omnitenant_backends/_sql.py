"""SQL helpers: every name reaches SQL through ``psycopg.sql.Identifier``."""

from __future__ import annotations

from collections.abc import Iterable

from psycopg import sql

from omnitenant_context import check_identifier

__all__ = ["qualified", "search_path_sql"]


def search_path_sql(schemas: Iterable[str]) -> sql.Composed:
    """``SET search_path TO "a", "b"`` for validated schema names."""
    names = [sql.Identifier(check_identifier(name, what="schema name")) for name in schemas]
    return sql.SQL("SET search_path TO {}").format(sql.SQL(", ").join(names))


def qualified(schema: str, name: str) -> sql.Identifier:
    """``"schema"."name"``."""
    return sql.Identifier(schema, name)
