"""Moving a tenant to another server or isolation type, with nothing lost and a way back.

::

    from django_omnitenant import moves

    report = moves.move_tenant(acme, server="second")     # a schema tenant, to another server
    moves.purge_source(acme)          # later: drop the old storage kept by the move
    moves.move_tenant(acme, isolation_type="database",
                      database_config={"ENGINE": "django.db.backends.postgresql"})

The steps, and what a failure at each leaves:

1. The tenant enters ``maintenance`` (:mod:`django_omnitenant.provisioning`): writes are
   refused by the database from here on, reads are served from the source.
2. The target storage is made by the tenant's backend for the target isolation type, the
   same way as for a new tenant (warm pool, template clone or migrations), and must be at
   the source's migration state.
3. The rows are copied table by table (:mod:`omnitenant_backends.copying`: binary
   ``COPY`` between two PostgreSQL connections, Django's models otherwise), the sequences
   carried over, the row count and checksum of every table compared.
4. One master transaction switches the tenant's storage fields (isolation type, server,
   database configuration: the only code allowed to change them) and makes it ``active``
   again; the cached tenant lookups of every process are invalidated when it commits. A
   source schema is renamed out of the way in the same transaction (in a transaction of
   its server around it, when that is not the master); a source PostgreSQL database is
   made read-only after it.

Until step 4 commits, any failure (an error, a killed connection) removes the partial
target and makes the tenant ``active`` again on its source, with its data. The source is
kept until :func:`purge_source` (``movetenant --purge-source``), so a move can be undone
by moving back: a schema as ``omnitenant-kept-<hex>`` (:func:`kept_schemas`), a database
where it was, named by the tenant's ``database_config`` while the tenant is a schema
tenant. A tenant with a kept source is not moved again until it is purged.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, transaction

from django_omnitenant import provisioning
from django_omnitenant.conf import backend_settings
from django_omnitenant.constants import TenantStatus
from django_omnitenant.models import _change_storage
from django_omnitenant.placement import place
from django_omnitenant.utils import get_tenant_backend
from omnitenant_backends.copying import (
    CopyReport,
    DjangoLocation,
    PostgresLocation,
    TableCopy,
    applied_migrations,
    copy_postgres,
    copy_rows,
)
from omnitenant_backends.database import (
    drop_database,
    is_postgres_engine,
    keep_database,
    tenant_database_settings,
)
from omnitenant_backends.placement import (
    UnknownServer,
    check_server,
    servers,
    storage_alias,
    tenant_server,
)
from omnitenant_backends.schema import KeptSchema, drop_kept_schema, keep_schema, kept_schemas
from omnitenant_context import IsolationType, OmnitenantError, Tenant, TenantContext

if TYPE_CHECKING:
    from django_omnitenant.models import BaseTenant

__all__ = [
    "MoveError",
    "MoveProgress",
    "MoveReport",
    "kept_source",
    "location_of",
    "move_tenant",
    "purge_source",
]

logger = logging.getLogger("omnitenant.moves")

#: Called with an event name and its details: ``maintenance``, ``target_made``,
#: ``table`` (table, rows, bytes), ``copied``, ``active``.
MoveProgress = Callable[[str, dict[str, Any]], None]


class MoveError(OmnitenantError):
    """The move was refused or failed; the tenant is active on its source."""


@dataclass(slots=True)
class MoveReport:
    """What a move did: where from and to, the copy, and how long writes were refused."""

    tenant_id: str
    source: str
    target: str
    copy: CopyReport
    write_unavailable_seconds: float
    kept_source: str
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (for ``--format json``)."""
        return {
            "tenant": self.tenant_id,
            "source": self.source,
            "target": self.target,
            "write_unavailable_seconds": round(self.write_unavailable_seconds, 3),
            "copy": self.copy.as_dict(),
            "kept_source": self.kept_source,
            "warnings": self.warnings,
        }


def location_of(tenant: Tenant) -> str:
    """Where the tenant's storage is, in words (no password)."""
    if tenant.isolation_type == IsolationType.SCHEMA:
        return f"schema {tenant.schema_name!r} on server {tenant_server(tenant)!r}"
    entry = tenant_database_settings(tenant)
    if is_postgres_engine(entry["ENGINE"]):
        return f"PostgreSQL database {entry['NAME']!r} on {entry.get('HOST') or 'localhost'}"
    return f"SQLite file {entry['NAME']!r}"


def move_tenant(
    tenant: BaseTenant,
    *,
    isolation_type: str | None = None,
    server: str | None = None,
    database_config: Mapping[str, Any] | None = None,
    progress: MoveProgress | None = None,
) -> MoveReport:
    """Move ``tenant`` to ``isolation_type`` and/or, as a schema tenant, to ``server``.

    ``isolation_type`` defaults to the tenant's own; ``server`` (a ``DATABASES`` alias that
    holds schema tenants) to the placement policy's choice for a new schema, the tenant's
    own server when it stays a schema tenant; ``database_config`` is the new database of a
    move to a database.

    Raises:
        MoveError: The move is not possible (nothing changed), or it failed: the partial
            target was removed and the tenant is active on its source.
        TransitionError: Another process changed the tenant's state as the move began.
    """
    tell = progress or _silent
    isolation = isolation_type or str(tenant.isolation_type)
    target = _target_tenant(tenant, isolation, server, database_config)
    source_description = location_of(tenant)
    target_description = location_of(target)
    started = time.perf_counter()
    provisioning.start_maintenance(tenant, reason=f"moving to {target_description}")
    tell("maintenance", {"source": source_description, "target": target_description})
    backend = get_tenant_backend(target)
    made = False
    try:
        backend.create(run_migrations=True, announce=False)
        made = True
        tell("target_made", {"target": target_description})
        _check_same_migrations(tenant, target)
        report = _copy(tenant, target, tell)
        tell("copied", report.as_dict())
        kept = _switch(tenant, target)
    except BaseException as exc:
        _undo(tenant, target, backend if made else None, exc)
        if isinstance(exc, OmnitenantError | DatabaseError | ValidationError):
            raise MoveError(
                f"Moving tenant {tenant.tenant_id!r} failed; it is active on its source "
                f"({source_description}) with its data, and the partial target was removed: "
                f"{exc}"
            ) from exc
        raise
    unavailable = time.perf_counter() - started
    move = MoveReport(
        tenant.tenant_id, source_description, target_description, report, unavailable, kept
    )
    _after_switch(tenant, move)
    tell("active", {"write_unavailable_seconds": round(unavailable, 3)})
    logger.info(
        "moved tenant %s from %s to %s; writes unavailable %.2fs",
        tenant.tenant_id,
        source_description,
        target_description,
        unavailable,
    )
    return move


def _silent(event: str, details: dict[str, Any]) -> None:
    """No progress is shown."""


def _target_tenant(
    tenant: BaseTenant,
    isolation_type: str,
    server: str | None,
    database_config: Mapping[str, Any] | None,
) -> BaseTenant:
    if tenant.status != TenantStatus.ACTIVE:
        raise MoveError(
            f"Tenant {tenant.tenant_id!r} is {tenant.status}; only active tenants move."
        )
    if isolation_type not in {member.value for member in IsolationType}:
        raise MoveError(f"Unknown isolation type {isolation_type!r}: use schema or database.")
    if isolation_type == IsolationType.SCHEMA and database_config:
        raise MoveError("A database configuration only applies to a move to a database.")
    if server and isolation_type != IsolationType.SCHEMA:
        raise MoveError("A server holds schema tenants: a move to a database takes none.")
    if server:
        try:
            check_server(server)
        except UnknownServer as exc:
            raise MoveError(str(exc)) from exc
    if isolation_type == tenant.isolation_type and (
        isolation_type == IsolationType.DATABASE or not server or server == tenant_server(tenant)
    ):
        raise MoveError(
            f"Tenant {tenant.tenant_id!r} is there already ({location_of(tenant)}): give "
            "another server or isolation type."
        )
    kept = kept_source(tenant)
    if kept:
        raise MoveError(
            f"Tenant {tenant.tenant_id!r} still has the source of an earlier move ({kept}); "
            f"purge it first (movetenant --tenant {tenant.tenant_id} --purge-source)."
        )
    # An unsaved instance (no primary key): the backend's clean-up after a failed create
    # must never delete the tenant's row.
    target = type(tenant)(
        tenant_id=tenant.tenant_id,
        name=tenant.name,
        isolation_type=isolation_type,
        schema_name=tenant.schema_name,
        database_config=dict(database_config or {}) if isolation_type == "database" else {},
        server=server or "",
        # Writable: the engine makes a tenant in maintenance read-only, and the target is
        # where the copy writes (its row is the source's, in maintenance until the switch).
        status=TenantStatus.ACTIVE,
    )
    try:
        if isolation_type == IsolationType.SCHEMA and not server:
            place(target)  # the placement policy chooses, as for a new tenant
        probe = copy.copy(target)
        # Checked as the tenant's own row would be after the switch (not against itself).
        probe.pk = tenant.pk
        probe._state = copy.copy(tenant._state)
        target.prepare_identifiers()
        with TenantContext.use_master_db():
            probe.validate_constraints()
        if isolation_type == IsolationType.DATABASE:
            tenant_database_settings(target)  # refuses a bad database name
    except (ValidationError, OmnitenantError) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        raise MoveError(f"Cannot move tenant {tenant.tenant_id!r} there: {message}") from exc
    return target


def _check_same_migrations(source: BaseTenant, target: BaseTenant) -> None:
    have = applied_migrations(source, storage_alias(source))
    made = applied_migrations(target, storage_alias(target))
    if have != made:
        missing = sorted(f"{app}.{name}" for app, name in made - have)
        unknown = sorted(f"{app}.{name}" for app, name in have - made)
        raise MoveError(
            f"Tenant {source.tenant_id!r} is not at the migration state of new storage "
            f"(not applied: {', '.join(missing) or 'none'}; unknown here: "
            f"{', '.join(unknown) or 'none'}). Run migratetenant first."
        )


def _postgres_location(tenant: Tenant) -> PostgresLocation | None:
    conf = backend_settings()
    if tenant.isolation_type == IsolationType.SCHEMA:
        server = connections[tenant_server(tenant)].settings_dict
        return PostgresLocation(server, tenant.schema_name)
    entry = tenant_database_settings(tenant)
    if is_postgres_engine(entry["ENGINE"]):
        return PostgresLocation(entry, conf.public_schema)
    return None


def _copy(source: BaseTenant, target: BaseTenant, tell: MoveProgress) -> CopyReport:
    def table_done(table: TableCopy) -> None:
        tell("table", {"table": table.table, "rows": table.rows, "bytes": table.bytes})

    from_pg, to_pg = _postgres_location(source), _postgres_location(target)
    if from_pg is not None and to_pg is not None:
        return copy_postgres(from_pg, to_pg, progress=table_done)
    return copy_rows(
        DjangoLocation(source, storage_alias(source)),
        DjangoLocation(target, storage_alias(target)),
        progress=table_done,
    )


def _switch(tenant: BaseTenant, target: BaseTenant) -> str:
    """The one master transaction that makes ``target`` the tenant's storage."""
    master = backend_settings().master_database
    values: dict[str, Any] = {"isolation_type": target.isolation_type, "server": target.server}
    if target.isolation_type == IsolationType.DATABASE:
        values["database_config"] = target.database_config
    elif not tenant.database_config:
        # Moving to a schema, database_config names the kept database: a database tenant
        # that used the defaults alone gets its engine written down, or nothing would.
        values["database_config"] = {"ENGINE": tenant_database_settings(tenant)["ENGINE"]}
    source_description = location_of(tenant)
    source_server = (
        tenant_server(tenant) if tenant.isolation_type == IsolationType.SCHEMA else master
    )
    # The source server's transaction (the master's own when it is the master) is the
    # outer one: the rename of the old schema commits only if the switch did.
    with (
        TenantContext.use_master_db(),
        transaction.atomic(using=source_server),
        transaction.atomic(using=master),
    ):
        if tenant.isolation_type == IsolationType.SCHEMA:
            kept_name = keep_schema(
                tenant.schema_name, tenant_id=tenant.tenant_id, using=source_server
            )
            kept = f"schema {kept_name!r} on server {source_server!r}"
        else:
            kept = source_description
        _change_storage(tenant, status=TenantStatus.MAINTENANCE, **values)
        provisioning.end_maintenance(tenant)
    return kept


def _after_switch(tenant: BaseTenant, move: MoveReport) -> None:
    """What follows a committed switch; a failure here is a warning, the move stands."""
    if tenant.isolation_type == IsolationType.SCHEMA and tenant.database_config:
        try:
            keep_database(tenant_database_settings(tenant), tenant_id=tenant.tenant_id)
        except Exception as exc:  # reported: the move is done, the old database is kept
            logger.exception("marking the kept database of tenant %s", tenant.tenant_id)
            move.warnings.append(
                f"The old database was kept but could not be made read-only: {exc}"
            )
    if apps.is_installed("django.contrib.contenttypes"):
        from django.contrib.contenttypes.models import ContentType  # noqa: PLC0415

        # The target's migrations numbered content types before the source's rows came.
        ContentType.objects.clear_cache()


def _undo(
    tenant: BaseTenant,
    target: BaseTenant,
    backend: Any,
    error: BaseException,
) -> None:
    """After a failed move: remove the partial target, make the tenant active again."""
    master = backend_settings().master_database
    connection = connections[master]
    if connection.connection is not None and not connection.is_usable():
        connection.close()  # it died with the move; the clean-up needs a new one
    if connection.in_atomic_block:
        return  # the caller's transaction decides; nothing here committed
    with TenantContext.use_master_db():
        stored = type(tenant)._default_manager.filter(pk=tenant.pk).first()
    if stored is not None and (stored.isolation_type, stored.server) == (
        target.isolation_type,
        target.server,
    ):
        # The switch committed although its answer was lost: the target is the tenant's.
        error.add_note(f"The switch of tenant {tenant.tenant_id!r} committed; it is moved.")
        return
    if backend is not None:
        try:
            backend.delete(drop_data=True, announce=False)
        except Exception as cleanup_exc:
            logger.exception("removing the partial target of tenant %s", tenant.tenant_id)
            error.add_note(
                f"Removing the partial target ({location_of(target)}) failed too "
                f"({cleanup_exc}); remove it by hand."
            )
    try:
        tenant.status = TenantStatus.MAINTENANCE
        provisioning.end_maintenance(tenant)
    except Exception as state_exc:
        logger.exception("making tenant %s active again", tenant.tenant_id)
        error.add_note(
            f"Tenant {tenant.tenant_id!r} could not be made active again ({state_exc}); "
            "its data is on the source: provisioning.end_maintenance() it."
        )


def kept_source(tenant: BaseTenant) -> str:
    """The storage an earlier move kept for ``tenant``, in words; empty when none."""
    found: list[str] = []
    if tenant.isolation_type == IsolationType.SCHEMA and tenant.database_config:
        found.append(location_of(_as_database(tenant)))
    found.extend(
        f"schema {kept.name!r} on server {alias!r} (moved out {kept.moved_at:%Y-%m-%d %H:%M} UTC)"
        for alias, kept in _kept_schemas_of(tenant)
    )
    return "; ".join(found)


def _kept_schemas_of(tenant: BaseTenant) -> list[tuple[str, KeptSchema]]:
    return [
        (alias, kept)
        for alias in servers()
        for kept in kept_schemas(using=alias)
        if kept.tenant_id == tenant.tenant_id
    ]


def _as_database(tenant: BaseTenant) -> BaseTenant:
    twin = copy.copy(tenant)
    twin.isolation_type = IsolationType.DATABASE.value
    return twin


def purge_source(tenant: BaseTenant) -> str:
    """Drop the storage an earlier move of ``tenant`` kept; return what was dropped.

    Raises:
        MoveError: There is nothing to purge.
    """
    dropped: list[str] = []
    for alias, kept in _kept_schemas_of(tenant):
        drop_kept_schema(kept.name, using=alias)
        dropped.append(f"schema {kept.name!r} on server {alias!r}")
    if tenant.isolation_type == IsolationType.SCHEMA and tenant.database_config:
        old = _as_database(tenant)
        description = location_of(old)
        drop_database(tenant_database_settings(old))
        master = backend_settings().master_database
        with TenantContext.use_master_db(), transaction.atomic(using=master):
            _change_storage(tenant, status=str(tenant.status), database_config={})
        dropped.append(description)
    if not dropped:
        raise MoveError(f"Tenant {tenant.tenant_id!r} has no source kept by a move.")
    logger.info("purged the kept source of tenant %s: %s", tenant.tenant_id, dropped)
    return "; ".join(dropped)
