"""The schema editor of the omnitenant engine: migrations end like commits.

Django's ``migrate`` runs each migration in a transaction of its own, and real migration
histories depend on it: Wagtail's early migrations insert rows whose foreign keys are
checked at commit (Django makes them ``DEFERRABLE INITIALLY DEFERRED``), and a later
migration alters the same table, which PostgreSQL refuses while the checks are pending
("cannot ALTER TABLE ... because it has pending trigger events").

Creating a schema tenant runs the whole chain inside one transaction, so that a failure
anywhere leaves nothing behind. Inside :func:`omnitenant_backends._scope.migration_units`
(tenant and template migrations), a schema editor that runs inside such an outer
transaction therefore ends its migration the way a commit would: every pending deferred
check runs now (a violation fails this migration, as the commit would have), and the
constraints go back to how they start in a fresh transaction: ``DEFERRABLE INITIALLY
DEFERRED`` ones deferred, ``DEFERRABLE INITIALLY IMMEDIATE`` ones immediate. Outside an
outer transaction Django commits each migration itself and nothing is added.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql.schema import DatabaseSchemaEditor as PostgresSchemaEditor
from psycopg import sql

from omnitenant_backends._scope import in_migration_units
from omnitenant_backends.conf import backend_settings

__all__ = ["DatabaseSchemaEditor", "end_migration_unit"]

# Checks every pending deferred constraint now, then defers the deferrable constraints
# again; the query names those that start IMMEDIATE, to restore them (usually none). Only
# the schemas a migration can write to (the path, and the shared schema) are looked at.
_END_OF_UNIT = """
SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', n.nspname, k.conname), ', ')
  FROM pg_catalog.pg_constraint k
  JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace
 WHERE k.condeferrable AND NOT k.condeferred
   AND (n.nspname = ANY (pg_catalog.current_schemas(true)) OR n.nspname = {public});
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED
"""


def end_migration_unit(connection: Any) -> None:
    """End a migration inside an outer transaction as its commit would have.

    One round trip in the usual case (no deferrable constraint that starts immediate).
    """
    statement = sql.SQL(_END_OF_UNIT).format(public=sql.Literal(backend_settings().public_schema))
    with connection.cursor() as cursor:
        # No parameters: the three statements travel as one simple query; the cursor
        # stands on the first result, the names.
        cursor.execute(statement.as_string(connection.connection))
        row = cursor.fetchone()
        immediate = row[0] if row else None
        if immediate:
            # Catalog names, quoted by format('%I') above.
            cursor.execute(f"SET CONSTRAINTS {immediate} IMMEDIATE")


class DatabaseSchemaEditor(PostgresSchemaEditor):
    """Django's PostgreSQL schema editor; see the module docstring for what it adds."""

    def __enter__(self) -> DatabaseSchemaEditor:
        # Decided on entry: inside an outer transaction, under migration_units, and not
        # only collecting SQL (sqlmigrate).
        self._ends_unit = (
            in_migration_units() and self.connection.in_atomic_block and not self.collect_sql
        )
        super().__enter__()
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        super().__exit__(exc_type, exc_value, traceback)
        if exc_type is None and self._ends_unit:
            end_migration_unit(self.connection)
