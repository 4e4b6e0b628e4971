"""Detect an app whose scope changed after its first ``migrate`` (``omnitenant.W013``).

Django records every migration as applied in a storage even where the router let none of
its operations run. An app first migrated as ``master`` is therefore recorded in every
tenant schema without its tables; moved to ``shared`` or ``tenant`` later, ``migrate``
says "No migrations to apply" and its tables stay missing (and the other way round).
This database check compares, for the master and every schema tenant (two catalog
queries in all), the tables created by the *recorded* migrations of each app its scope
puts there with the tables that exist, and names the app, where its tables are missing
and how to repair it. It runs with ``migrate`` and with
``manage.py check --database default``. Database tenants are not inspected.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Warning
from django.db import DatabaseError, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import CreateModel
from django.db.migrations.recorder import MigrationRecorder
from psycopg import sql

from django_omnitenant.conf import OmnitenantConfigurationError, backend_settings
from django_omnitenant.constants import TenantStatus
from django_omnitenant.placement import on_server
from django_omnitenant.utils import get_tenant_model
from omnitenant_backends.placement import servers
from omnitenant_context import TenantContext

__all__ = ["check_scope_drift", "tables_created_by"]

_MAX_NAMED_TENANTS = 5


def tables_created_by(scopes: frozenset[str]) -> dict[tuple[str, str], set[str]]:
    """Per migration ``(app, name)`` of the apps in ``scopes``: the tables it creates.

    Read from the migration files (``CreateModel`` of models that still exist and are
    managed), so a table is only expected where the migration that makes it is recorded:
    an app or a model that is simply not migrated yet is not drift.
    """
    conf = backend_settings()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    created: dict[tuple[str, str], set[str]] = {}
    for key, migration in loader.disk_migrations.items():
        app = key[0]
        if conf.app_scope(app) not in scopes or app == "django_omnitenant":
            continue
        tables: set[str] = set()
        for operation in migration.operations:
            if not isinstance(operation, CreateModel):
                continue
            try:
                model = apps.get_model(app, operation.name)
            except LookupError:
                continue  # deleted since
            if model._meta.managed and not model._meta.proxy and not model._meta.swapped:
                tables.add(model._meta.db_table)
        if tables:
            created[key] = tables
    return created


def check_scope_drift(
    app_configs: Any = None, databases: Any = None, **_: Any
) -> list[CheckMessage]:
    """The database check: apps whose tables are missing where their scope needs them."""
    try:
        conf = backend_settings()
    except OmnitenantConfigurationError:
        return []  # omnitenant.E001
    if not databases or conf.master_database not in databases:
        return []
    connection = connections[conf.master_database]
    with TenantContext.use_master_db():
        applied = set(MigrationRecorder(connection).applied_migrations())
        present = set(connection.introspection.table_names())
        missing_in_master = _missing(
            tables_created_by(frozenset({"master", "shared"})), applied, present
        )
        by_tenant: dict[str, list[str]] = defaultdict(list)
        for alias in servers():
            # Each server that the check may use (``check --database``) holds its own.
            if alias not in databases:
                continue
            try:
                found = _missing_in_schema_tenants(alias, present)
            except DatabaseError:
                if alias == conf.master_database:
                    raise
                continue  # an unreachable server is omnitenant.W020 (checks.py)
            for app, tenant_ids in found.items():
                by_tenant[app].extend(tenant_ids)
    messages: list[CheckMessage] = [
        Warning(
            f"The app {app!r} (scope {conf.app_scope(app)!r}) has no tables in the master "
            f"database: {', '.join(sorted(tables))}, although its migrations are recorded "
            "there. Its scope probably changed after its first migrate.",
            hint=f"Repair: manage.py migrate {app} zero --fake, then manage.py migrate {app} "
            "(see docs/isolation.md).",
            id="omnitenant.W013",
        )
        for app, tables in sorted(missing_in_master.items())
    ]
    for app, tenants in sorted(by_tenant.items()):
        named = ", ".join(tenants[:_MAX_NAMED_TENANTS])
        more = len(tenants) - _MAX_NAMED_TENANTS
        messages.append(
            Warning(
                f"The app {app!r} (scope {conf.app_scope(app)!r}) has tables missing in "
                f"{len(tenants)} tenant(s) where its migrations are recorded: {named}"
                f"{f' and {more} more' if more > 0 else ''}. Its scope probably changed "
                "after its first migrate.",
                hint=f"Repair each tenant: manage.py migratetenant --tenant <id> {app} zero "
                f"--fake, then manage.py migratetenant --tenant <id> {app}.",
                id="omnitenant.W013",
            )
        )
    return messages


def _missing(
    created: dict[tuple[str, str], set[str]], applied: set[tuple[str, str]], present: set[str]
) -> dict[str, set[str]]:
    missing: dict[str, set[str]] = defaultdict(set)
    for key, tables in created.items():
        if key in applied:
            missing[key[0]] |= tables - present
    return {app: tables for app, tables in missing.items() if tables}


def _missing_in_schema_tenants(alias: str, master_tables: set[str]) -> dict[str, list[str]]:
    try:
        tenant_model = get_tenant_model()
    except OmnitenantConfigurationError:
        return {}
    if tenant_model._meta.db_table not in master_tables:
        return {}  # a new project's first migrate: no tenant table, so no tenant yet
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return {}
    schemas = dict(
        tenant_model.objects.filter(on_server(alias), status=TenantStatus.ACTIVE).values_list(
            "schema_name", "tenant_id"
        )
    )
    if not schemas:
        return {}
    present: dict[str, set[str]] = defaultdict(set)
    applied: dict[str, set[tuple[str, str]]] = defaultdict(set)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY(%s)",
            [list(schemas)],
        )
        for schema, table in cursor.fetchall():
            present[schema].add(table)
        recorded = sorted(s for s in schemas if "django_migrations" in present[s])
        if recorded:
            cursor.execute(
                sql.SQL(" UNION ALL ").join(
                    sql.SQL("SELECT {}, app, name FROM {}").format(
                        sql.Literal(schema), sql.Identifier(schema, "django_migrations")
                    )
                    for schema in recorded
                )
            )
            for schema, app, name in cursor.fetchall():
                applied[schema].add((app, name))
    created = tables_created_by(frozenset({"tenant", "shared"}))
    by_app: dict[str, list[str]] = defaultdict(list)
    for schema, tenant_id in sorted(schemas.items(), key=lambda item: item[1]):
        for app in _missing(created, applied[schema], present[schema]):
            by_app[app].append(tenant_id)
    return by_app
