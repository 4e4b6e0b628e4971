"""Tenant storage seen from outside the life cycle: orphans, and rows without storage.

An *orphan* is storage that looks like a tenant's but no tenant row names:

* a schema of the master database whose name passes the identifier rule, that holds a
  ``django_migrations`` table and is not shared (the public schema, the template); the
  other servers of schema tenants (:mod:`omnitenant_backends.placement`) are not
  searched for orphans yet;
* a PostgreSQL database on the master's server that omnitenant created for a tenant of
  this master (it carries :data:`~omnitenant_backends.database.TENANT_DATABASE_COMMENT`
  with the master database's name; databases made before that marker existed, and
  databases of tenants on other servers, are never reported);
* a file ``<identifier>.sqlite3`` in ``SQLITE_DIRECTORY``.

Nothing else is ever reported or removed: not the public schema, the template, the master
database, PostgreSQL's system databases, schemas or databases of other applications, nor
a warm-pool schema (its name is not an identifier). A *missing* storage is a tenant row
whose schema (on its server), database or file does not exist (or whose server cannot be
reached).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.db import connections

from omnitenant_backends.conf import backend_settings
from omnitenant_backends.database import (
    database_exists,
    drop_database,
    is_postgres_engine,
    sqlite_directory,
    tenant_database_settings,
    tenant_databases_on_server,
)
from omnitenant_backends.placement import tenant_server
from omnitenant_backends.schema import drop_schema, is_shared_schema, schema_exists
from omnitenant_context import IsolationType, Tenant, is_valid_identifier

__all__ = ["MissingStorage", "Storage", "find_missing_storage", "find_orphans", "remove_orphan"]

StorageKind = Literal["schema", "database", "sqlite"]
_SQLITE_ENGINE = "django.db.backends.sqlite3"


@dataclass(frozen=True, slots=True)
class Storage:
    """A schema, a PostgreSQL database or an SQLite file."""

    kind: StorageKind
    #: The schema or database name, or the SQLite file's path.
    name: str


@dataclass(frozen=True, slots=True)
class MissingStorage:
    """A tenant row whose storage is not there (``problem`` says what was found)."""

    tenant_id: str
    storage: Storage
    problem: str


def _storage_of(tenant: Tenant) -> tuple[Storage, dict[str, Any] | None]:
    if tenant.isolation_type == IsolationType.SCHEMA:
        return Storage("schema", tenant.schema_name), None
    return _database_storage(tenant)


def _named_storage(tenant: Tenant) -> list[Storage]:
    """The tenant's storage, and the database a move to a schema kept (named by the
    schema tenant's ``database_config`` until ``movetenant --purge-source``)."""
    named = [_storage_of(tenant)[0]]
    if tenant.isolation_type == IsolationType.SCHEMA and getattr(tenant, "database_config", None):
        named.append(_database_storage(tenant)[0])
    return named


def _database_storage(tenant: Tenant) -> tuple[Storage, dict[str, Any]]:
    entry = tenant_database_settings(tenant)
    if entry["ENGINE"] == _SQLITE_ENGINE:
        return Storage("sqlite", str(Path(entry["NAME"]).resolve())), entry
    return Storage("database", str(entry["NAME"])), entry


def _master_entry() -> dict[str, Any] | None:
    master = connections[backend_settings().master_database].settings_dict
    return dict(master) if is_postgres_engine(master.get("ENGINE")) else None


def find_orphans(tenants: Iterable[Tenant]) -> list[Storage]:
    """Storage that looks like a tenant's and that none of ``tenants`` names, sorted.

    Pass every tenant row (of any status): storage of a row that exists is never an orphan.
    """
    named = {storage for tenant in tenants for storage in _named_storage(tenant)}
    found: list[Storage] = []
    master = _master_entry()
    if master is not None:
        alias = backend_settings().master_database
        for schema in _schemas_with_migrations(alias):
            storage = Storage("schema", schema)
            if (
                is_valid_identifier(schema)
                and not is_shared_schema(schema)
                and storage not in named
            ):
                found.append(storage)
        configured = {str(entry.get("NAME")) for entry in settings.DATABASES.values()}
        configured.add(str(master.get("NAME")))
        for database in tenant_databases_on_server(master):
            storage = Storage("database", database)
            if database not in configured and storage not in named:
                found.append(storage)
    directory = sqlite_directory()
    if directory.is_dir():
        for path in sorted(directory.glob("*.sqlite3")):
            storage = Storage("sqlite", str(path.resolve()))
            if is_valid_identifier(path.stem) and storage not in named:
                found.append(storage)
    return found


def _schemas_with_migrations(alias: str) -> list[str]:
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind IN ('r', 'p') "
            "ORDER BY n.nspname"
        )
        return [str(row[0]) for row in cursor.fetchall()]


def find_missing_storage(tenants: Iterable[Tenant]) -> list[MissingStorage]:
    """The tenants whose schema, database or file does not exist (or cannot be reached)."""
    missing: list[MissingStorage] = []
    for tenant in tenants:
        storage, entry = _storage_of(tenant)
        try:
            exists = (
                schema_exists(storage.name, using=tenant_server(tenant))
                if entry is None
                else database_exists(entry)
            )
        except Exception as exc:  # an unreachable server is reported, not raised
            detail = " ".join(str(exc).split())
            missing.append(
                MissingStorage(
                    tenant.tenant_id, storage, f"unreachable: {type(exc).__name__}: {detail}"
                )
            )
            continue
        if not exists:
            missing.append(MissingStorage(tenant.tenant_id, storage, "missing"))
    return missing


def remove_orphan(storage: Storage, tenants: Iterable[Tenant]) -> None:
    """Drop one orphan found by :func:`find_orphans`, checked again against ``tenants``.

    Raises ``ValueError`` when the storage is not (or no longer) an orphan, and
    :class:`~omnitenant_backends.StorageInUse` when objects elsewhere depend on a schema.
    """
    if storage not in find_orphans(tenants):
        raise ValueError(f"The {storage.kind} {storage.name!r} is not an orphan (any more).")
    if storage.kind == "schema":
        drop_schema(storage.name, owner="no tenant (orphan)")
        return
    if storage.kind == "database":
        master = _master_entry()
        if master is None:
            raise ValueError("Orphaned databases are only looked for on a PostgreSQL master.")
        drop_database({**master, "NAME": storage.name})
        return
    drop_database({"ENGINE": _SQLITE_ENGINE, "NAME": storage.name})
