"""A warm pool of migrated, unclaimed schemas that new schema tenants take over.

With ``OMNITENANT_CONFIG['WARM_POOL_SIZE'] = N`` (N > 0), :func:`fill_pool` (the
``fillwarmpool`` command, the ``omnitenant.fill_warm_pool`` Celery task, and
``migratealltenants`` after migrating) keeps N schemas ready: created and migrated (cloned
from the template when cloning is on) exactly as a tenant's schema would be. Creating a
schema tenant then renames one of them (``ALTER SCHEMA ... RENAME TO``) inside the
creating transaction instead of cloning or migrating: a rollback gives the schema back to
the pool. With the pool empty, creation clones or migrates as before.

A pool schema is never reachable as a tenant before it is claimed: its name starts with
``omnitenant-pool-``, and the hyphen is outside the identifier rule, so no tenant's
``schema_name`` can name it, ``TenantContext.use_schema`` refuses it, and the resolvers
(which only ever return tenants) cannot map a host to it. It is also never listed as a
tenant schema (:func:`omnitenant_backends.schema.tenant_schema_names`).

A pool schema is claimed only when it has every migration the graph requires; one that
lags behind is dropped and replaced by the next :func:`fill_pool`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Final

from django.db import connections, transaction
from psycopg import sql

from omnitenant_backends.conf import BackendSettings, backend_settings
from omnitenant_backends.fleet import Migration, required_tenant_migrations

__all__ = [
    "POOL_PREFIX",
    "PoolReport",
    "claim_pool_schema",
    "fill_pool",
    "is_pool_schema",
    "pool_schemas",
    "pool_size",
]

logger = logging.getLogger("omnitenant.backends")

#: The prefix of every pool schema; the hyphen keeps it out of the tenant namespace.
POOL_PREFIX: Final = "omnitenant-pool-"

# The migration graph's tenant nodes, with the settings object they were read under.
_required: tuple[BackendSettings, frozenset[Migration]] | None = None


def _required_migrations() -> frozenset[Migration]:
    # Loading the migration graph costs tens of milliseconds; it does not change while
    # a process runs (new migrations come with a new deployment, i.e. new processes).
    # Read again when the settings object is replaced (override_settings in tests).
    global _required  # noqa: PLW0603 - a per-process cache
    conf = backend_settings()
    cached = _required
    if cached is None or cached[0] is not conf:
        cached = _required = (conf, required_tenant_migrations())
    return cached[1]


def pool_size() -> int:
    """``OMNITENANT_CONFIG['WARM_POOL_SIZE']``: how many ready schemas to keep (0: none)."""
    return backend_settings().warm_pool_size


def is_pool_schema(schema_name: str) -> bool:
    """Whether ``schema_name`` is a pool schema (never a tenant's)."""
    return schema_name.startswith(POOL_PREFIX)


def pool_schemas(*, using: str | None = None) -> list[str]:
    """The pool schemas of one server (default: the master), sorted (oldest name order)."""
    alias = using or backend_settings().master_database
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_catalog.pg_namespace "
            "WHERE starts_with(nspname, %s) ORDER BY nspname",
            [POOL_PREFIX],
        )
        return [str(row[0]) for row in cursor.fetchall()]


def _lock_key(schema: str) -> str:
    return f"omnitenant.pool:{schema}"


def _is_current(alias: str, schema: str) -> bool:
    with connections[alias].cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT app, name FROM {}").format(sql.Identifier(schema, "django_migrations"))
        )
        applied = frozenset((str(app), str(name)) for app, name in cursor.fetchall())
    return _required_migrations() <= applied


def claim_pool_schema(target: str, *, using: str) -> bool:
    """Rename a ready pool schema to ``target`` in the current transaction.

    Returns ``False`` (and changes nothing) when the pool is off or has no ready schema.
    Must run inside a transaction: the pool schema is locked (an advisory lock until the
    transaction ends) so two creations never claim the same one, and a rollback gives it
    back to the pool.
    """
    if pool_size() == 0:
        return False
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("claim_pool_schema() must run inside a transaction.")
    for schema in pool_schemas(using=using):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext(%s))",
                [_lock_key(schema)],
            )
            row = cursor.fetchone()
            if not (row and row[0]):
                continue  # another creation is claiming it right now
            # Claimed and committed by another creation since the list was read?
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s)",
                [schema],
            )
            row = cursor.fetchone()
            if not (row and row[0]):
                continue
        if not _is_current(using, schema):
            continue  # left for fill_pool() to replace
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    sql.Identifier(schema), sql.Identifier(target)
                )
            )
        logger.info("claimed pool schema %s as %s", schema, target)
        return True
    return False


@dataclass(frozen=True)
class PoolReport:
    """What :func:`fill_pool` found and did."""

    ready: int
    dropped: int
    made: int


@dataclass(frozen=True)
class _Seed:
    """A tenant-shaped stand-in, so a pool schema is made exactly as a tenant's schema."""

    tenant_id: str
    schema_name: str
    isolation_type: str = "schema"
    database_alias: str = ""
    cache_namespace: str = ""
    #: The server the schema is made on (see :mod:`omnitenant_backends.placement`).
    server: str = ""


def fill_pool(size: int | None = None, *, using: str | None = None) -> PoolReport:
    """Drop pool schemas that lag behind the migrations and make new ones up to ``size``.

    ``size`` defaults to ``WARM_POOL_SIZE``. Each new schema is made in a transaction of
    its own under a name in the tenant namespace that only that transaction sees, then
    renamed into the pool before it commits.
    """
    # Imported here: the schema backend imports this module to claim from the pool.
    from omnitenant_backends.schema import SchemaTenantBackend  # noqa: PLC0415

    wanted = pool_size() if size is None else size
    alias = using or backend_settings().master_database
    ready: list[str] = []
    dropped = 0
    for schema in pool_schemas(using=alias):
        with transaction.atomic(using=alias):
            with connections[alias].cursor() as cursor:
                cursor.execute(
                    "SELECT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext(%s))",
                    [_lock_key(schema)],
                )
                row = cursor.fetchone()
            if not (row and row[0]):
                continue  # being claimed right now
            if _is_current(alias, schema):
                ready.append(schema)
                continue
            with connections[alias].cursor() as cursor:
                cursor.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
            dropped += 1
    made = 0
    while len(ready) + made < wanted:
        token = uuid.uuid4().hex[:20]
        name = f"omnitenant_pool_new_{token}"
        seed = _Seed(tenant_id=name, schema_name=name, server=alias)
        with transaction.atomic(using=alias):
            SchemaTenantBackend(seed).make_schema(run_migrations=True)
            with connections[alias].cursor() as cursor:
                cursor.execute(
                    sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                        sql.Identifier(seed.schema_name), sql.Identifier(POOL_PREFIX + token)
                    )
                )
        made += 1
    logger.info("warm pool: %d ready, %d stale dropped, %d made", len(ready), dropped, made)
    return PoolReport(ready=len(ready), dropped=dropped, made=made)
