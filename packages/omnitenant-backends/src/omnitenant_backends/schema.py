"""Schema per tenant: each tenant's tables live in a PostgreSQL schema of its own.

The tenant's schema is created and migrated inside one transaction on the master
connection, so a failure at any step (a broken migration, a failing ``tenant_created``
receiver) rolls back the schema with everything in it. PostgreSQL's DDL is transactional:
no schema is ever left half-made.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from django.db import connections, transaction
from psycopg import sql

from omnitenant_backends._base import BaseTenantBackend
from omnitenant_backends._scope import exclusive_schema
from omnitenant_backends.conf import OmnitenantConfigurationError, omnitenant_settings
from omnitenant_context import IsolationType, TenantContext, check_identifier

__all__ = ["SchemaTenantBackend", "schema_exists"]

_ALWAYS_SHARED = frozenset({"information_schema"})


def schema_exists(schema_name: str, *, using: str | None = None) -> bool:
    """Tell whether the schema exists in the master database."""
    alias = using or omnitenant_settings().master_database
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s)",
            [schema_name],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


class SchemaTenantBackend(BaseTenantBackend):
    """Schema-per-tenant isolation on the omnitenant PostgreSQL engine."""

    isolation_type = IsolationType.SCHEMA

    @property
    def schema_name(self) -> str:
        """The tenant's schema, checked against the identifier rule and shared names."""
        name = check_identifier(self.tenant.schema_name, what="schema name")
        conf = omnitenant_settings()
        if name in _ALWAYS_SHARED or name in {conf.public_schema, conf.schema_template}:
            raise OmnitenantConfigurationError(
                f"The schema {name!r} is shared; a tenant can never own or drop it."
            )
        return name

    @property
    def alias(self) -> str:
        return omnitenant_settings().master_database

    def exists(self) -> bool:
        """Tell whether the tenant's schema exists."""
        return schema_exists(self.schema_name, using=self.alias)

    def _provisioning_transaction(self) -> AbstractContextManager[object]:
        # One transaction (a savepoint inside the caller's) around provisioning and the
        # tenant_created receivers: any failure rolls back the schema and its tables.
        return transaction.atomic(using=self.alias)

    def _provision(self, *, run_migrations: bool) -> None:
        schema = self.schema_name
        with connections[self.alias].cursor() as cursor:
            # No IF NOT EXISTS: an existing schema is never adopted (nor dropped later).
            cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        if run_migrations:
            with TenantContext.use_tenant(self.tenant):
                self._run_migrate()

    def _run_migrate(self, **options: Any) -> None:
        with exclusive_schema():
            super()._run_migrate(**options)

    def _rollback_provisioning(self) -> None:
        # The provisioning transaction was rolled back by the exception, and took the
        # schema and every table in it along: nothing is left to undo by hand.
        return

    def _drop(self) -> None:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(self.schema_name)
                )
            )
