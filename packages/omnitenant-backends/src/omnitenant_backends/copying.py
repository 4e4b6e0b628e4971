"""Copying a tenant's rows from one storage to another, verified before anyone relies on it.

Two paths, one report (:class:`CopyReport`):

* :func:`copy_postgres` streams every table of a PostgreSQL schema into the same tables
  of another schema (same or another server) with binary ``COPY``, over two connections
  of its own: the source reads in one ``REPEATABLE READ READ ONLY`` transaction (one
  snapshot for all tables), the target writes in one transaction that also empties the
  tables first, carries the sequences over and compares a row count and a checksum per
  table on both sides *before* it commits. Any failure (a mismatch, a dropped
  connection) rolls the target back; nothing outside the target is written.
* :func:`copy_rows` does the same through Django's models, for storages that are not both
  PostgreSQL (an SQLite database tenant) and for tenant archives
  (:mod:`omnitenant_backends.archive`): rows are read in primary-key order, in chunks,
  and written with the target connection's own value conversion.

Both copy into storage that is already at the source's migration state; the caller makes
it (through the provisioning path) and removes it again when the copy fails. No external
program (``pg_dump``, ``psql``) is needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.db.utils import load_backend
from psycopg import sql

from omnitenant_backends import _rows
from omnitenant_backends._rows import (
    CopyError,
    CopyMismatch,
    DjangoLocation,
    RowSink,
    RowSource,
    TableRows,
    applied_migrations,
    dependency_order,
)
from omnitenant_backends.database import _with_django_defaults

__all__ = [
    "COPY_APPLICATION_NAME",
    "CopyError",
    "CopyMismatch",
    "CopyReport",
    "DjangoLocation",
    "PostgresLocation",
    "Progress",
    "RowSink",
    "RowSource",
    "TableCopy",
    "TableRows",
    "applied_migrations",
    "copy_postgres",
    "copy_rows",
    "dependency_order",
]

#: ``application_name`` of the connections :func:`copy_postgres` opens (visible in
#: ``pg_stat_activity``).
COPY_APPLICATION_NAME = "omnitenant-copy"

# Session settings that make a row's text form the same on both connections, whatever the
# servers' or roles' defaults: the checksum is taken over that text.
_STABLE_TEXT = (
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 1",
    "SET bytea_output = 'hex'",
)


@dataclass(frozen=True, slots=True)
class TableCopy:
    """One copied table: rows, bytes moved and the checksum both sides agreed on."""

    table: str
    rows: int
    bytes: int
    checksum: str


@dataclass(slots=True)
class CopyReport:
    """What a copy moved, and how long it took."""

    tables: list[TableCopy] = field(default_factory=list)
    sequences: int = 0
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        """Rows copied, over all tables."""
        return sum(table.rows for table in self.tables)

    @property
    def bytes(self) -> int:
        """Bytes moved (the ``COPY`` stream, or the rows' JSON text on the row path)."""
        return sum(table.bytes for table in self.tables)

    @property
    def bytes_per_second(self) -> float:
        """The copy rate."""
        return self.bytes / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (for ``--format json``)."""
        return {
            "tables": [
                {"table": t.table, "rows": t.rows, "bytes": t.bytes, "checksum": t.checksum}
                for t in self.tables
            ],
            "rows": self.rows,
            "bytes": self.bytes,
            "sequences": self.sequences,
            "seconds": round(self.seconds, 3),
            "bytes_per_second": round(self.bytes_per_second),
        }


Progress = Callable[[TableCopy], None]


# -- PostgreSQL to PostgreSQL ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostgresLocation:
    """A schema on a PostgreSQL server: ``settings`` is a ``DATABASES``-style entry."""

    settings: Mapping[str, Any]
    schema: str

    def connect(self) -> psycopg.Connection[Any]:
        """A connection of its own (plain psycopg, not Django's), in a transaction."""
        entry = _with_django_defaults(dict(self.settings))
        wrapper = load_backend(entry["ENGINE"]).DatabaseWrapper(entry, "omnitenant_copy")
        params = dict(wrapper.get_connection_params())
        for django_only in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(django_only, None)
        params["application_name"] = COPY_APPLICATION_NAME
        connection = psycopg.connect(**params, autocommit=False)
        for statement in _STABLE_TEXT:
            connection.execute(statement)
        return connection


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    columns: tuple[str, ...]


def copy_postgres(
    source: PostgresLocation,
    target: PostgresLocation,
    *,
    progress: Progress | None = None,
    on_connected: Callable[[psycopg.Connection[Any], psycopg.Connection[Any]], None] | None = None,
) -> CopyReport:
    """Copy every table and sequence of ``source``'s schema into ``target``'s, verified.

    The target must have the same tables with the same columns (made at the same
    migration state); rows it holds already (those its migrations wrote) are replaced.

    Raises:
        CopyError: The schemas differ, or a connection failed; the target is unchanged.
        CopyMismatch: Counts or checksums differ after the copy; the target is unchanged.
    """
    started = time.perf_counter()
    report = CopyReport()
    with ExitStack() as stack:
        try:
            reader = stack.enter_context(source.connect())
            writer = stack.enter_context(target.connect())
        except psycopg.Error as exc:
            raise CopyError(f"Cannot connect for the copy: {exc}") from exc
        try:
            reader.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            tables = _tables(reader, source.schema)
            _check_same_tables(tables, _tables(writer, target.schema), source, target)
            order = dependency_order(
                (table.name for table in tables), _references(reader, source.schema)
            )
            by_name = {table.name: table for table in tables}
            writer.execute("SET CONSTRAINTS ALL DEFERRED")
            if tables:
                writer.execute(
                    sql.SQL("TRUNCATE {}").format(
                        sql.SQL(", ").join(
                            sql.Identifier(target.schema, table.name) for table in tables
                        )
                    )
                )
            for name in order:
                table = by_name[name]
                moved = _copy_table(reader, writer, source.schema, target.schema, table)
                copied = _verified(reader, writer, source.schema, target.schema, table, moved)
                report.tables.append(copied)
                if progress is not None:
                    progress(copied)
            report.sequences = _copy_sequences(reader, writer, source.schema, target.schema)
            writer.execute("SET CONSTRAINTS ALL IMMEDIATE")
            writer.commit()
            reader.rollback()
        except psycopg.Error as exc:
            raise CopyError(f"The copy failed and was rolled back: {exc}") from exc
    report.seconds = time.perf_counter() - started
    return report


def _tables(connection: psycopg.Connection[Any], schema: str) -> list[_Table]:
    # Ordinary tables and partitions; a partitioned parent holds no rows of its own.
    rows = connection.execute(
        "SELECT c.relname, array_agg(a.attname ORDER BY a.attnum) "
        "FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
        "WHERE n.nspname = %s AND c.relkind = 'r' AND a.attnum > 0 "
        "AND NOT a.attisdropped AND a.attgenerated = '' "
        "GROUP BY c.relname ORDER BY c.relname",
        [schema],
    ).fetchall()
    return [_Table(str(name), tuple(columns)) for name, columns in rows]


def _check_same_tables(
    source_tables: Sequence[_Table],
    target_tables: Sequence[_Table],
    source: PostgresLocation,
    target: PostgresLocation,
) -> None:
    targets = {table.name: table for table in target_tables}
    problems: list[str] = []
    for table in source_tables:
        other = targets.get(table.name)
        if other is None:
            problems.append(f"{table.name} is missing")
        elif set(other.columns) != set(table.columns):
            problems.append(
                f"{table.name} has columns {sorted(other.columns)}, the source "
                f"{sorted(table.columns)}"
            )
    if problems:
        raise CopyError(
            f"The target schema {target.schema!r} is not at the source {source.schema!r}'s "
            f"migration state: {'; '.join(problems)}."
        )


def _references(connection: psycopg.Connection[Any], schema: str) -> dict[str, set[str]]:
    rows = connection.execute(
        "SELECT c.relname, r.relname FROM pg_catalog.pg_constraint k "
        "JOIN pg_catalog.pg_class c ON c.oid = k.conrelid "
        "JOIN pg_catalog.pg_class r ON r.oid = k.confrelid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE k.contype = 'f' AND n.nspname = %s",
        [schema],
    ).fetchall()
    references: dict[str, set[str]] = {}
    for table, referenced in rows:
        references.setdefault(str(table), set()).add(str(referenced))
    return references


def _column_list(table: _Table) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(column) for column in table.columns)


def _copy_table(
    reader: psycopg.Connection[Any],
    writer: psycopg.Connection[Any],
    source_schema: str,
    target_schema: str,
    table: _Table,
) -> int:
    columns = _column_list(table)
    copy_out = sql.SQL("COPY {} ({}) TO STDOUT (FORMAT binary)").format(
        sql.Identifier(source_schema, table.name), columns
    )
    copy_in = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        sql.Identifier(target_schema, table.name), columns
    )
    moved = 0
    with (
        reader.cursor() as out_cursor,
        writer.cursor() as in_cursor,
        out_cursor.copy(copy_out) as out,
        in_cursor.copy(copy_in) as into,
    ):
        for block in out:
            moved += len(block)
            into.write(block)
    return moved


def _checksum_query(schema: str, table: _Table) -> sql.Composed:
    # An order-free sum of 64 bits of each row's md5: no sort, and the same on both
    # sides whatever order the rows were stored in.
    return sql.SQL(
        "SELECT count(*), coalesce(sum(('x' || left(md5(ROW({})::text), 16))::bit(64)"
        "::bigint::numeric), 0)::text FROM ONLY {} AS t"
    ).format(
        sql.SQL(", ").join(sql.Identifier("t", column) for column in table.columns),
        sql.Identifier(schema, table.name),
    )


def _verified(  # noqa: PLR0917 - a private step with both sides' arguments
    reader: psycopg.Connection[Any],
    writer: psycopg.Connection[Any],
    source_schema: str,
    target_schema: str,
    table: _Table,
    moved: int,
) -> TableCopy:
    source_row = reader.execute(_checksum_query(source_schema, table)).fetchone()
    target_row = writer.execute(_checksum_query(target_schema, table)).fetchone()
    if source_row is None or target_row is None or tuple(source_row) != tuple(target_row):
        raise CopyMismatch(
            f"Table {table.name}: the source has {source_row} (rows, checksum), the copy "
            f"{target_row}."
        )
    return TableCopy(table.name, int(source_row[0]), moved, str(source_row[1]))


def _copy_sequences(
    reader: psycopg.Connection[Any],
    writer: psycopg.Connection[Any],
    source_schema: str,
    target_schema: str,
) -> int:
    names = [
        str(row[0])
        for row in reader.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'S' ORDER BY c.relname",
            [source_schema],
        ).fetchall()
    ]
    for name in names:
        state = reader.execute(
            sql.SQL("SELECT last_value, is_called FROM {}").format(
                sql.Identifier(source_schema, name)
            )
        ).fetchone()
        if state is None:
            continue
        qualified = sql.Identifier(target_schema, name).as_string(writer)
        writer.execute("SELECT pg_catalog.setval(%s::regclass, %s, %s)", [qualified, *state])
    return len(names)


# -- through Django's models --------------------------------------------------------------


def copy_rows(
    source: RowSource, target: RowSink, *, progress: Progress | None = None
) -> CopyReport:
    """Copy every table ``source`` offers into ``target``, verified; any storage kind.

    ``target`` writes in one transaction that empties its tables first and is rolled
    back when anything fails, also when the rows read back from it differ from the
    source's (count or checksum per table).

    Raises:
        CopyError: The target lacks a table of the source, or writing failed.
        CopyMismatch: Counts or checksums differ after the copy.
    """
    started = time.perf_counter()
    report = CopyReport()
    tables = source.tables()
    with target.writing([table.table for table in tables]):
        for table in tables:
            digest = _rows.RowDigest()
            target.write(table, _counted(source.rows(table), digest))
            written = target.digest(table)
            if (written.count, written.value) != (digest.count, digest.value):
                raise CopyMismatch(
                    f"Table {table.table}: the source has {digest.count} rows (checksum "
                    f"{digest.hexdigest}), the copy {written.count} ({written.hexdigest})."
                )
            copied = TableCopy(table.table, digest.count, digest.bytes, digest.hexdigest)
            report.tables.append(copied)
            if progress is not None:
                progress(copied)
        report.sequences = target.set_sequences(source.sequences())
    report.seconds = time.perf_counter() - started
    return report


def _counted(rows: Iterable[list[Any]], digest: _rows.RowDigest) -> Iterator[list[Any]]:
    for row in rows:
        digest.add(row)
        yield row
