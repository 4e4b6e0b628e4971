"""Schema per tenant: each tenant's tables live in a PostgreSQL schema of its own.

The tenant's schema is created and migrated inside one transaction on the master
connection, so a failure at any step (a broken migration, a failing ``tenant_created``
receiver) rolls back the schema with everything in it. PostgreSQL's DDL is transactional:
no schema is ever left half-made.

With ``OMNITENANT_CONFIG['CLONE_SCHEMA_TEMPLATE']`` (the default) and a
``SCHEMA_TEMPLATE``, a new schema is copied from that template, which is migrated first when
it lags behind the migration graph, instead of running every migration again; see
:mod:`omnitenant_backends._clone` for what a clone copies and when it migrates instead.
The template is shared: no tenant can own or drop it, and :func:`tenant_schema_names`
leaves it out.
"""

from __future__ import annotations

import datetime
import logging
import re
import secrets
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final

from django.db import connections, transaction
from psycopg import sql

from omnitenant_backends._base import BaseTenantBackend
from omnitenant_backends._clone import clone_schema, cloning_template, prepare_schema_template
from omnitenant_backends._dependents import StorageInUse, outside_dependents
from omnitenant_backends._scope import schema_migration
from omnitenant_backends.conf import OmnitenantConfigurationError, backend_settings
from omnitenant_backends.placement import tenant_server
from omnitenant_backends.pool import POOL_PREFIX, claim_pool_schema
from omnitenant_context import IsolationType, Tenant, TenantContext, check_identifier

__all__ = [
    "KEPT_PREFIX",
    "KeptSchema",
    "SchemaTenantBackend",
    "drop_kept_schema",
    "drop_schema",
    "is_shared_schema",
    "keep_schema",
    "kept_schemas",
    "schema_exists",
    "tenant_schema_names",
]

logger = logging.getLogger("omnitenant.backends")

_ALWAYS_SHARED = frozenset({"information_schema"})
#: The name prefix of a moved tenant's old schema, kept until it is purged. Outside the
#: identifier rule (a ``-``), so no tenant can ever be given one of these names.
KEPT_PREFIX: Final = "omnitenant-kept-"
_KEPT_COMMENT = "omnitenant kept source of tenant {tenant_id}, moved out {moved_at}"
_KEPT_COMMENT_PATTERN = re.compile(
    r"^omnitenant kept source of tenant (?P<tenant_id>\w+), moved out (?P<moved_at>\S+)$"
)


def is_shared_schema(schema_name: str) -> bool:
    """Tell whether no tenant may own ``schema_name``: the shared schema, the template, a
    warm-pool schema, or one of PostgreSQL's own (``information_schema``, ``pg_*``)."""
    conf = backend_settings()
    return (
        schema_name in _ALWAYS_SHARED
        or schema_name.startswith(("pg_", POOL_PREFIX, KEPT_PREFIX))
        or schema_name in {conf.public_schema, conf.schema_template}
    )


def schema_exists(schema_name: str, *, using: str | None = None) -> bool:
    """Tell whether the schema exists in the database of ``using`` (default: the master)."""
    alias = using or backend_settings().master_database
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s)",
            [schema_name],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def tenant_schema_names(*, using: str | None = None) -> list[str]:
    """The schemas of the master database that may belong to tenants, sorted.

    Every schema except the shared ones (see :func:`is_shared_schema`), so the template
    never shows up as a tenant, also not as an orphan to clean up.
    """
    alias = using or backend_settings().master_database
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_catalog.pg_namespace ORDER BY nspname")
        names = [str(row[0]) for row in cursor.fetchall()]
    return [name for name in names if not is_shared_schema(name)]


class SchemaTenantBackend(BaseTenantBackend):
    """Schema-per-tenant isolation on the omnitenant PostgreSQL engine.

    The tenant's schema name is checked when the backend is made: a name that breaks the
    identifier rule, or names a shared schema (the public schema, the template), is
    refused before anything can be created or dropped.
    """

    isolation_type = IsolationType.SCHEMA

    def __init__(self, tenant: Tenant) -> None:
        super().__init__(tenant)
        self._checked_schema_name()

    @property
    def schema_name(self) -> str:
        """The tenant's schema, checked against the identifier rule and shared names.

        Checked on every use, not only once: the settings (the template's name) may have
        changed since the backend was made.
        """
        return self._checked_schema_name()

    def _checked_schema_name(self) -> str:
        name = check_identifier(self.tenant.schema_name, what="schema name")
        if is_shared_schema(name):
            raise OmnitenantConfigurationError(
                f"The schema {name!r} is shared; a tenant can never own or drop it."
            )
        return name

    @property
    def alias(self) -> str:
        """The server (``DATABASES`` alias) that holds the tenant's schema."""
        return tenant_server(self.tenant)

    def _migrate_database_alias(self) -> str:
        return self.alias

    def exists(self) -> bool:
        """Tell whether the tenant's schema exists."""
        return schema_exists(self.schema_name, using=self.alias)

    def _provisioning_transaction(self) -> AbstractContextManager[object]:
        # One transaction (a savepoint inside the caller's) around provisioning and the
        # tenant_created receivers: any failure rolls back the schema and its tables.
        return transaction.atomic(using=self.alias)

    def _provision(self, *, run_migrations: bool) -> None:
        # A ready schema from the warm pool, renamed in this transaction, if there is one.
        if run_migrations and claim_pool_schema(self.schema_name, using=self.alias):
            return
        self.make_schema(run_migrations=run_migrations)

    def make_schema(self, *, run_migrations: bool) -> None:
        """Create the schema and clone or migrate it (no pool); inside a transaction."""
        schema = self.schema_name
        alias = self.alias
        template = cloning_template() if run_migrations else None
        if template is not None:
            template = self._prepared_template(template)
        with connections[alias].cursor() as cursor:
            # No IF NOT EXISTS: an existing schema is never adopted (nor dropped later).
            cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        if not run_migrations:
            return
        if template is not None and clone_schema(template, schema, using=alias):
            return
        with TenantContext.use_tenant(self.tenant):
            self._run_migrate()

    def _prepared_template(self, template: str) -> str | None:
        """``template``, brought up to date (or made); ``None`` when it cannot be.

        Inside the provisioning transaction: the template stays locked until the tenant
        is committed or rolled back. The template is only a shortcut: when it cannot be
        migrated, its savepoint is rolled back and the tenant is migrated instead (a
        migration that is really broken then fails the tenant as well).
        """
        try:
            with transaction.atomic(using=self.alias):
                prepare_schema_template(template, using=self.alias)
        except Exception as exc:  # logged; the tenant is migrated instead
            logger.warning(
                "the schema template %s could not be migrated (%s: %s); migrating tenant %s "
                "instead of cloning it",
                template,
                type(exc).__name__,
                exc,
                self.tenant.tenant_id,
            )
            return None
        return template

    def _run_migrate(self, **options: Any) -> None:
        with self._migration_extras():
            super()._run_migrate(**options)

    def _migration_extras(self) -> AbstractContextManager[object]:
        # The tenant's path never holds the shared schema (the engine fails closed), so
        # Django finds the tenant's own django_migrations; inside the provisioning
        # transaction each migration must still end as its own commit would have.
        return schema_migration()

    def _rollback_provisioning(self) -> None:
        # The provisioning transaction was rolled back by the exception, and took the
        # schema and every table in it along: nothing is left to undo by hand.
        return

    def _drop(self) -> None:
        drop_schema(self.schema_name, using=self.alias, owner=f"tenant {self.tenant.tenant_id!r}")


@dataclass(frozen=True, slots=True)
class KeptSchema:
    """A moved tenant's old schema, kept (renamed) until it is purged."""

    name: str
    tenant_id: str
    moved_at: datetime.datetime


def keep_schema(schema: str, *, tenant_id: str, using: str) -> str:
    """Rename a moved tenant's ``schema`` out of the way; return its new name.

    Call it in the transaction that switches the tenant to its new storage: the rename
    commits with the switch. Code that still holds the old placement then finds no
    schema instead of writing rows that would be lost, and the old name is free for a
    move back. The comment names the tenant and the time, for :func:`kept_schemas`.
    """
    name = check_identifier(schema, what="schema name")
    kept = KEPT_PREFIX + secrets.token_hex(8)
    comment = _KEPT_COMMENT.format(
        tenant_id=tenant_id, moved_at=datetime.datetime.now(datetime.UTC).isoformat()
    )
    with connections[using].cursor() as cursor:
        cursor.execute(
            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                sql.Identifier(name), sql.Identifier(kept)
            )
        )
        cursor.execute(
            sql.SQL("COMMENT ON SCHEMA {} IS {}").format(sql.Identifier(kept), sql.Literal(comment))
        )
    return kept


def kept_schemas(*, using: str | None = None) -> list[KeptSchema]:
    """The kept old schemas of moved tenants on ``using`` (default: the master)."""
    alias = using or backend_settings().master_database
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT nspname, pg_catalog.obj_description(oid, 'pg_namespace') "
            "FROM pg_catalog.pg_namespace WHERE starts_with(nspname, %s) ORDER BY nspname",
            [KEPT_PREFIX],
        )
        rows = cursor.fetchall()
    kept: list[KeptSchema] = []
    for name, comment in rows:
        match = _KEPT_COMMENT_PATTERN.match(str(comment or ""))
        if match:
            moved_at = datetime.datetime.fromisoformat(match["moved_at"])
            kept.append(KeptSchema(str(name), match["tenant_id"], moved_at))
    return kept


def drop_kept_schema(name: str, *, using: str | None = None) -> None:
    """Drop a kept old schema (see :func:`keep_schema`), and nothing outside it."""
    if not name.startswith(KEPT_PREFIX):
        raise OmnitenantConfigurationError(f"{name!r} is not a kept schema of a moved tenant.")
    _drop_schema(name, using or backend_settings().master_database, owner="a moved tenant")


def drop_schema(schema: str, *, using: str | None = None, owner: str = "") -> None:
    """Drop ``schema`` and everything in it, and nothing outside it.

    ``CASCADE`` is needed for the schema's own objects, but would also drop objects
    elsewhere that depend on them (another schema's view of one of its tables, a foreign
    key into it). Those are looked up first, with the schema's relations locked so none
    can appear meanwhile, and the drop is refused with :class:`StorageInUse`, naming them.
    A shared schema (the public schema, the template) is never dropped.
    """
    name = check_identifier(schema, what="schema name")
    if is_shared_schema(name):
        raise OmnitenantConfigurationError(
            f"The schema {name!r} is shared; a tenant can never own or drop it."
        )
    _drop_schema(name, using or backend_settings().master_database, owner=owner)


def _drop_schema(name: str, alias: str, *, owner: str) -> None:
    connection = connections[alias]
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
            "ORDER BY c.oid",
            [name],
        )
        relations = [sql.Identifier(name, str(row[0])) for row in cursor.fetchall()]
        if relations:
            # No new view or foreign key can reach these tables until the drop commits.
            cursor.execute(
                sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                    sql.SQL(", ").join(relations)
                )
            )
        dependents = outside_dependents(connection, name)
        if dependents:
            whose = f" of {owner}" if owner else ""
            raise StorageInUse(
                f"The schema {name!r}{whose} was not dropped: objects outside it depend on "
                "it and would be dropped too: "
                + "; ".join(dependents)
                + ". Drop or change them first."
            )
        cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
