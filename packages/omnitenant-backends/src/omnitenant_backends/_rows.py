"""The row path of a tenant copy: rows through Django's models, on any database vendor.

A row travels as a list of JSON values (one per concrete field, by attribute name), the
same form a tenant archive stores. Both sides compute a :class:`RowDigest` of that form,
so a copy between PostgreSQL and SQLite, or into and out of an archive, is verified the
same way: the rows read back from the target must give the source's count and checksum.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from django.apps import apps
from django.db import connections, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models.fields import AutoFieldMixin
from django.utils.duration import duration_iso_string

from omnitenant_context import OmnitenantError, Tenant, TenantContext

__all__ = [
    "CopyError",
    "CopyMismatch",
    "DjangoLocation",
    "RowDigest",
    "RowSink",
    "RowSource",
    "TableRows",
    "applied_migrations",
    "dependency_order",
    "encode_row",
]

_CHUNK = 2000
_MASK = (1 << 64) - 1


class CopyError(OmnitenantError):
    """The copy could not be made; the target was left as it was before (or is to drop)."""


class CopyMismatch(CopyError):
    """The copied rows differ from the source's: counts or checksums do not match."""


def dependency_order(tables: Iterable[str], references: Mapping[str, Iterable[str]]) -> list[str]:
    """``tables`` with each one after the tables it references (foreign keys).

    Tables in a reference cycle (or referencing themselves) keep their given order after
    the others: their constraints are deferred until the copy commits.
    """
    pending = list(dict.fromkeys(tables))
    wanted = set(pending)
    ordered: list[str] = []
    placed: set[str] = set()
    progress = True
    while pending and progress:
        progress = False
        for table in list(pending):
            needs = {ref for ref in references.get(table, ()) if ref in wanted and ref != table}
            if needs <= placed:
                ordered.append(table)
                placed.add(table)
                pending.remove(table)
                progress = True
    return ordered + pending


@dataclass(frozen=True, slots=True)
class TableRows:
    """A table as the row path sees it: its model (``app_label.ModelName``) and columns
    (the model's concrete fields, by attribute name)."""

    table: str
    model: str
    columns: tuple[str, ...]


class RowDigest:
    """Count, bytes and an order-free checksum of rows in their JSON form."""

    __slots__ = ("bytes", "count", "value")

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0
        self.value = 0

    def add(self, row: Sequence[Any]) -> None:
        self.add_encoded(encode_row(row))

    def add_encoded(self, encoded: bytes) -> None:
        """Add a row given as :func:`encode_row` made it."""
        self.count += 1
        self.bytes += len(encoded)
        self.value = (self.value + int.from_bytes(hashlib.sha256(encoded).digest()[:8])) & _MASK

    @property
    def hexdigest(self) -> str:
        """The checksum as 16 hex digits."""
        return f"{self.value:016x}"


class RowSource(Protocol):
    """Where rows come from: a tenant's storage or an archive."""

    def tables(self) -> list[TableRows]:
        """The tables to copy, each after the tables it references."""
        ...

    def rows(self, table: TableRows) -> Iterable[list[Any]]:
        """The table's rows in their JSON form."""
        ...

    def sequences(self) -> dict[str, int | None]:
        """The last value given out by each table's primary-key sequence (``None``: none)."""
        ...


class RowSink(Protocol):
    """Where rows go: a tenant's storage or an archive."""

    def writing(self, tables: Sequence[str]) -> Any:
        """A context manager around the whole copy: a transaction that commits at exit."""
        ...

    def write(self, table: TableRows, rows: Iterable[list[Any]]) -> int:
        """Write the rows; return how many."""
        ...

    def digest(self, table: TableRows) -> RowDigest:
        """The digest of the table's rows as written (read back)."""
        ...

    def set_sequences(self, positions: Mapping[str, int | None]) -> int:
        """Carry the primary-key sequences over; return how many were set."""
        ...


def encode_row(row: Sequence[Any]) -> bytes:
    """A row's one canonical JSON text (what the checksum is taken over)."""
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def json_value(value: object) -> Any:
    """A field value as JSON (what ``Field.to_python`` reads back)."""
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise OmnitenantError(f"A value of type {type(value).__name__} cannot be copied by rows.")


def model_label(model: type[models.Model]) -> str:
    return model._meta.label


def model_for(label: str) -> type[models.Model]:
    """The model of a :class:`TableRows` (Django's migration record included)."""
    recorder_model = MigrationRecorder.Migration
    if label == recorder_model._meta.label:
        return recorder_model
    try:
        return apps.get_model(label)
    except LookupError as exc:
        raise OmnitenantError(f"The model {label!r} is not installed here.") from exc


def _concrete_columns(model: type[models.Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


def _models_by_table() -> dict[str, type[models.Model]]:
    found: dict[str, type[models.Model]] = {}
    candidates: list[type[models.Model]] = [
        MigrationRecorder.Migration,
        *apps.get_models(include_auto_created=True),
    ]
    for model in candidates:
        if model._meta.proxy:
            continue
        found.setdefault(model._meta.db_table, model)
    return found


def applied_migrations(tenant: Tenant, alias: str) -> set[tuple[str, str]]:
    """The migrations recorded in ``tenant``'s storage on ``alias``."""
    with TenantContext.use_tenant(tenant):
        return set(MigrationRecorder(connections[alias]).applied_migrations())


class DjangoLocation:
    """A tenant's storage reached through Django: ``tenant`` entered on ``alias``."""

    def __init__(self, tenant: Tenant, alias: str) -> None:
        self.tenant = tenant
        self.alias = alias

    # -- as a source ----------------------------------------------------------------------

    def tables(self) -> list[TableRows]:
        connection = connections[self.alias]
        with TenantContext.use_tenant(self.tenant), connection.cursor() as cursor:
            present = connection.introspection.table_names(cursor)
        known = _models_by_table()
        unknown = sorted(name for name in present if name not in known)
        if unknown:
            raise CopyError(
                f"Tables without a Django model cannot be copied by rows: {', '.join(unknown)}."
            )
        references = {
            name: {
                f.related_model._meta.db_table
                for f in known[name]._meta.concrete_fields
                if f.related_model is not None and not isinstance(f.related_model, str)
            }
            for name in present
        }
        return [
            TableRows(name, model_label(known[name]), _concrete_columns(known[name]))
            for name in dependency_order(sorted(present), references)
        ]

    def rows(self, table: TableRows) -> Iterator[list[Any]]:
        model = model_for(table.model)
        pk_name = model._meta.pk.attname if model._meta.pk is not None else "id"
        pk_index = table.columns.index(pk_name)
        query = model._base_manager.using(self.alias).order_by("pk")
        last: Any = None
        while True:
            with TenantContext.use_tenant(self.tenant):
                chunk_query = query if last is None else query.filter(pk__gt=last)
                chunk = list(chunk_query.values_list(*table.columns)[:_CHUNK])
            for row in chunk:
                yield [json_value(value) for value in row]
            if len(chunk) < _CHUNK:
                return
            last = chunk[-1][pk_index]

    def sequences(self) -> dict[str, int | None]:
        connection = connections[self.alias]
        positions: dict[str, int | None] = {}
        with TenantContext.use_tenant(self.tenant), connection.cursor() as cursor:
            for model in _sequenced_models(connection, cursor):
                table, column = model._meta.db_table, _pk_column(model)
                if connection.vendor == "postgresql":
                    cursor.execute(
                        "SELECT pg_get_serial_sequence(%s, %s)", [_q(table, connection), column]
                    )
                    found = cursor.fetchone()
                    if not found or found[0] is None:
                        continue
                    # A name the server returned, quoted by the server.
                    cursor.execute(f"SELECT last_value, is_called FROM {found[0]}")  # noqa: S608
                    state = cursor.fetchone()
                    positions[table] = int(state[0]) if state and state[1] else None
                else:
                    cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                    found = cursor.fetchone()
                    positions[table] = int(found[0]) if found else None
        return positions

    # -- as a sink ---------------------------------------------------------------------

    @contextmanager
    def writing(self, tables: Sequence[str]) -> Iterator[None]:
        connection = connections[self.alias]
        with (
            TenantContext.use_tenant(self.tenant),
            transaction.atomic(using=self.alias),
            connection.cursor() as cursor,
        ):
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            # Rows the target's migrations wrote (content types, permissions, the
            # migration records) give way to the source's.
            for table in reversed(tables):
                cursor.execute(f"DELETE FROM {_q(table, connection)}")  # noqa: S608 - a quoted table name
            yield
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    def write(self, table: TableRows, rows: Iterable[list[Any]]) -> int:
        model = model_for(table.model)
        if _concrete_columns(model) != table.columns:
            raise CopyError(
                f"Table {table.table}: the model here has columns "
                f"{list(_concrete_columns(model))}, the source {list(table.columns)}; the "
                "two are not at the same migration state."
            )
        connection = connections[self.alias]
        fields = [_concrete_field(model, column) for column in table.columns]
        statement = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - quoted names
            _q(table.table, connection),
            ", ".join(_q(str(f.column), connection) for f in fields),
            ", ".join(["%s"] * len(fields)),
        )
        written = 0
        batch: list[list[Any]] = []
        with TenantContext.use_tenant(self.tenant), connection.cursor() as cursor:
            for row in rows:
                batch.append(
                    [_db_value(f, value, connection) for f, value in zip(fields, row, strict=True)]
                )
                if len(batch) >= _CHUNK:
                    cursor.executemany(statement, batch)
                    written += len(batch)
                    batch = []
            if batch:
                cursor.executemany(statement, batch)
                written += len(batch)
        return written

    def digest(self, table: TableRows) -> RowDigest:
        digest = RowDigest()
        for row in self.rows(table):
            digest.add(row)
        return digest

    def set_sequences(self, positions: Mapping[str, int | None]) -> int:
        connection = connections[self.alias]
        done = 0
        with TenantContext.use_tenant(self.tenant), connection.cursor() as cursor:
            for model in _sequenced_models(connection, cursor):
                table = model._meta.db_table
                if table not in positions:
                    continue
                last = positions[table]
                if connection.vendor == "postgresql":
                    cursor.execute(
                        "SELECT setval(pg_get_serial_sequence(%s, %s), %s, %s)",
                        [_q(table, connection), _pk_column(model), last or 1, last is not None],
                    )
                else:
                    cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
                    if last is not None:
                        cursor.execute(
                            "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)",
                            [table, last],
                        )
                done += 1
        return done


def _q(name: str, connection: Any) -> str:
    return str(connection.ops.quote_name(name))


def _pk_column(model: type[models.Model]) -> str:
    assert model._meta.pk is not None  # noqa: S101 - every concrete model has one
    return str(model._meta.pk.column)


def _concrete_field(model: type[models.Model], attname: str) -> models.Field[Any, Any]:
    for f in model._meta.concrete_fields:
        if f.attname == attname:
            return f
    raise CopyError(f"{model._meta.label} has no column {attname!r}.")


def _sequenced_models(connection: Any, cursor: Any) -> list[type[models.Model]]:
    """Models with an auto-incrementing key whose table exists in this storage."""
    present = set(connection.introspection.table_names(cursor))
    return [
        model
        for table, model in _models_by_table().items()
        if table in present and _auto_incremented(model)
    ]


def _auto_incremented(model: type[models.Model]) -> bool:
    pk: Any = model._meta.pk
    return isinstance(pk, AutoFieldMixin)


def _db_value(f: models.Field[Any, Any], value: Any, connection: Any) -> Any:
    if value is None:
        return None
    if not isinstance(f, models.JSONField):
        value = f.to_python(value)
    return f.get_db_prep_save(value, connection)
