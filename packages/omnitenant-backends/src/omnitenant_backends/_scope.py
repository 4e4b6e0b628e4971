"""Flags, scoped like the tenant context, for migrations of one schema.

``exclusive_schema`` leaves the shared schema out of ``search_path``;
``migration_units`` makes each migration end as if it were committed (see
:mod:`omnitenant_backends.postgresql.schema`). Tenant and template migrations set both.
``maintenance_writes`` lets the operator's own work write to a read-only tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = [
    "exclusive_schema",
    "in_migration_units",
    "is_schema_exclusive",
    "maintenance_writes",
    "migration_units",
    "schema_migration",
    "writes_allowed_in_maintenance",
]

_exclusive: ContextVar[bool] = ContextVar("omnitenant_exclusive_schema", default=False)
_units: ContextVar[bool] = ContextVar("omnitenant_migration_units", default=False)
_maintenance_writes: ContextVar[bool] = ContextVar("omnitenant_maintenance_writes", default=False)


def is_schema_exclusive() -> bool:
    """Tell whether the shared schema is left out of ``search_path`` right now."""
    return _exclusive.get()


@contextmanager
def exclusive_schema() -> Iterator[None]:
    """Mark the ``with`` body as needing one schema alone on ``search_path``.

    Kept for compatibility and as documentation of intent (migrations of a tenant schema
    and template clones run like this): the engine now leaves the shared schema off every
    tenant path anyway, so a tenant never finds the master's ``django_migrations`` (or any
    other shared table) in place of its own.
    """
    token = _exclusive.set(True)
    try:
        yield
    finally:
        _exclusive.reset(token)


def in_migration_units() -> bool:
    """Tell whether each migration must end as its own unit of work right now."""
    return _units.get()


@contextmanager
def migration_units() -> Iterator[None]:
    """Inside the ``with`` body, each migration run inside an outer transaction ends as
    if it had been committed: its deferred constraints are checked, and the next one
    starts with them deferred again. Django's ``migrate`` gives each migration a
    transaction of its own; tenant creation runs the whole chain in one, and real
    migration histories (a data migration, then an ``ALTER TABLE`` of the same table)
    only work when the boundaries between migrations still behave like commits.
    """
    token = _units.set(True)
    try:
        yield
    finally:
        _units.reset(token)


@contextmanager
def schema_migration() -> Iterator[None]:
    """What migrating one schema needs: the schema alone, one unit per migration."""
    with exclusive_schema(), migration_units():
        yield


def writes_allowed_in_maintenance() -> bool:
    """Tell whether the body of :func:`maintenance_writes` is running."""
    return _maintenance_writes.get()


@contextmanager
def maintenance_writes() -> Iterator[None]:
    """Let the body write to tenants that are read-only (in maintenance).

    The PostgreSQL engine makes every transaction of a read-only tenant read-only; the
    operator's own work on it is the exception: its migrations
    (``BaseTenantBackend.migrate()`` and ``migration_scope()`` enter this) or a repair
    done by hand. A transaction already made read-only before the body stays so.
    """
    token = _maintenance_writes.set(True)
    try:
        yield
    finally:
        _maintenance_writes.reset(token)
