"""Database per tenant: each tenant has a database of its own (PostgreSQL or SQLite).

A tenant's connection alias is built from the tenant's stored ``database_config`` merged
over ``OMNITENANT_CONFIG['DATABASE_DEFAULTS']`` the first time the tenant is used in a
process. It is in Django's connection handler only while a thread holds a connection
object for it: per process at most ``MAX_OPEN_TENANT_CONNECTIONS`` are held, the least
recently used idle one is closed and its alias dropped when another tenant needs one
(``_connections``), so nothing Django walks per request grows with the number of tenants.
``settings.DATABASES`` is never edited: the handler gets a private copy of it.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend
from psycopg import sql

from omnitenant_backends._base import BaseTenantBackend
from omnitenant_backends._connections import forget_alias, hold, release_requested
from omnitenant_backends.conf import OmnitenantConfigurationError, backend_settings
from omnitenant_backends.postgresql.base import TENANT_DATABASE_FLAG
from omnitenant_backends.postgresql.base import DatabaseWrapper as OmnitenantDatabaseWrapper
from omnitenant_context import IsolationType, Tenant, TenantContext, check_identifier

__all__ = [
    "TENANT_DATABASE_COMMENT",
    "DatabaseTenantBackend",
    "database_exists",
    "drop_database",
    "is_postgres_engine",
    "is_tenant_database_alias",
    "keep_database",
    "release_requested_connections",
    "tenant_database_alias",
    "tenant_database_settings",
    "tenant_databases_on_server",
]

logger = logging.getLogger("omnitenant.backends")

_SQLITE_ENGINE = "django.db.backends.sqlite3"
_DJANGO_POSTGRES_ENGINE = "django.db.backends.postgresql"
#: The comment omnitenant puts on every PostgreSQL database it creates for a tenant,
#: with the master database's name: deployments sharing a server never see each other's.
TENANT_DATABASE_COMMENT = "omnitenant tenant database of master {master}"
# Databases that exist on every PostgreSQL server and must never be created or dropped.
_SYSTEM_DATABASES = frozenset({"postgres", "template0", "template1"})

_registry_lock = threading.Lock()
# Aliases this process has built, with their complete settings entry. Only looked up,
# never walked: the connection handler sees an alias only while a thread holds it.
_registered: dict[str, dict[str, Any]] = {}


@functools.cache
def _is_postgres_engine(engine: object) -> bool:
    """Django's PostgreSQL engine or the omnitenant engine, under any path that exports it.

    Judged by the engine's class, not by a list of paths: the Django app re-exports the
    omnitenant engine under its own path, which this package must not need to know.
    """
    if engine == _DJANGO_POSTGRES_ENGINE:
        return True
    if not isinstance(engine, str):
        return False
    try:
        wrapper = load_backend(engine).DatabaseWrapper
    except (ImproperlyConfigured, AttributeError):
        return False
    return isinstance(wrapper, type) and issubclass(wrapper, OmnitenantDatabaseWrapper)


def is_tenant_database_alias(alias: str) -> bool:
    """Tell whether ``alias`` is a tenant's own database alias registered by omnitenant."""
    return alias in _registered


def tenant_database_settings(tenant: Tenant) -> dict[str, Any]:
    """The Django ``DATABASES`` entry of ``tenant``'s own database.

    ``database_config`` of the tenant (when it has one) is merged over
    ``DATABASE_DEFAULTS``; without an ``ENGINE`` the tenant gets an SQLite file named after
    its id in ``SQLITE_DIRECTORY``.
    """
    conf = backend_settings()
    own: dict[str, Any] = dict(getattr(tenant, "database_config", None) or {})
    merged: dict[str, Any] = {**conf.database_defaults, **own}
    engine = merged.setdefault("ENGINE", _SQLITE_ENGINE)
    if engine == _SQLITE_ENGINE:
        merged.setdefault("NAME", str(sqlite_directory() / f"{tenant.tenant_id}.sqlite3"))
    elif _is_postgres_engine(engine):
        merged.setdefault("NAME", tenant.tenant_id)
        check_identifier(merged["NAME"], what="database name")
        # The omnitenant engine, so use_schema() also works inside database tenants.
        merged["ENGINE"] = "omnitenant_backends.postgresql"
    merged[TENANT_DATABASE_FLAG] = tenant.tenant_id
    return merged


def sqlite_directory() -> Path:
    """Where SQLite tenant files live (``OMNITENANT_CONFIG['SQLITE_DIRECTORY']``)."""
    conf = backend_settings()
    if conf.sqlite_directory is not None:
        return conf.sqlite_directory
    master = settings.DATABASES[conf.master_database]
    name = str(master.get("NAME") or "")
    if master.get("ENGINE") == _SQLITE_ENGINE and name and not name.startswith(":memory:"):
        return Path(name).resolve().parent / "tenants"
    base_dir = getattr(settings, "BASE_DIR", None)
    if base_dir is None:
        raise OmnitenantConfigurationError(
            "Set OMNITENANT_CONFIG['SQLITE_DIRECTORY'] (or BASE_DIR): omnitenant needs a "
            "directory for the SQLite files of database tenants."
        )
    return Path(base_dir) / "tenants"


def tenant_database_alias(tenant: Tenant) -> str:
    """Return ``tenant``'s connection alias, making it usable in this thread if needed.

    Cheap when warm (the thread used the same alias last: one attribute look-up and one
    comparison): the router calls it for every query. Otherwise the alias joins the
    connection handler's settings for as long as a thread holds it, within the
    process-wide bound ``MAX_OPEN_TENANT_CONNECTIONS`` (see ``_connections``).
    """
    alias = tenant.database_alias
    entry = _registered.get(alias)
    if entry is None:
        entry = _register(alias, tenant)
    hold(alias, entry, backend_settings().max_open_tenant_connections)
    return alias


#: Close the current thread's tenant connections that other threads asked it to release.
#: The Django app connects it to ``request_finished`` (it accepts and ignores the signal's
#: arguments): a thread may only close its own connections, so one that exceeds the
#: per-process bound is released by its owner. The function itself, not a wrapper: it
#: runs at the end of every request.
release_requested_connections = release_requested


def _register(alias: str, tenant: Tenant) -> dict[str, Any]:
    conf = backend_settings()
    if alias == conf.master_database or alias in settings.DATABASES:
        raise OmnitenantConfigurationError(
            f"Tenant {tenant.tenant_id!r} would use the alias {alias!r}, which "
            "settings.DATABASES already defines; rename that database alias."
        )
    entry = _with_django_defaults(tenant_database_settings(tenant))
    if entry.get("ATOMIC_REQUESTS"):
        raise OmnitenantConfigurationError(
            f"Tenant {tenant.tenant_id!r} sets ATOMIC_REQUESTS in its database settings "
            "(or DATABASE_DEFAULTS): set it on the master database instead; a database "
            "tenant's transaction follows the master's (docs/isolation.md)."
        )
    with _registry_lock:
        entry = _registered.setdefault(alias, entry)
    logger.debug("registered database alias %s", alias)
    return entry


def _with_django_defaults(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` with Django's defaults (TEST, OPTIONS, TIME_ZONE, ...) filled in."""
    # configure_settings insists on seeing a default alias beside the entry; it leaves
    # that (already configured) entry as it is.
    default = connections.settings[DEFAULT_DB_ALIAS]
    completed: dict[str, Any] = connections.configure_settings(
        {DEFAULT_DB_ALIAS: default, "entry": dict(entry)}
    )["entry"]
    return completed


def _unregister(alias: str) -> None:
    forget_alias(alias)
    with _registry_lock:
        _registered.pop(alias, None)


class DatabaseTenantBackend(BaseTenantBackend):
    """Database-per-tenant isolation, on PostgreSQL (``CREATE DATABASE``) or SQLite."""

    isolation_type = IsolationType.DATABASE

    @property
    def settings_dict(self) -> dict[str, Any]:
        return tenant_database_settings(self.tenant)

    def _migrate_database_alias(self) -> str:
        return tenant_database_alias(self.tenant)

    def activate(self) -> None:
        tenant_database_alias(self.tenant)
        super().activate()

    def _provision(self, *, run_migrations: bool) -> None:
        self._created = False
        entry = self.settings_dict
        self._refuse_shared(entry)
        if entry["ENGINE"] == _SQLITE_ENGINE:
            path = Path(entry["NAME"])
            path.parent.mkdir(parents=True, exist_ok=True)
            # "x" mode: fails if the file exists, so an existing database is never
            # adopted (and never removed by a rollback).
            with path.open("x"):
                pass
        else:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(entry["NAME"]))
            template = backend_settings().postgres_template_database
            if template:
                template_name = check_identifier(template, what="template database")
                statement = sql.SQL("{} TEMPLATE {}").format(
                    statement, sql.Identifier(template_name)
                )
            _execute_on_server(entry, statement)
        self._created = True
        if entry["ENGINE"] != _SQLITE_ENGINE:
            # Marks the database as a tenant's, so an orphan (no row names it any more)
            # can be told from any other database of the server.
            _execute_on_server(
                entry,
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(entry["NAME"]), sql.Literal(_tenant_database_comment())
                ),
            )
        if run_migrations:
            with TenantContext.use_tenant(self.tenant):
                self._run_migrate()

    def _rollback_provisioning(self) -> None:
        if getattr(self, "_created", False):
            self._drop()

    def _drop(self) -> None:
        entry = self.settings_dict
        self._refuse_shared(entry)
        _unregister(self.tenant.database_alias)
        drop_database(entry)

    @staticmethod
    def _refuse_shared(entry: dict[str, Any]) -> None:
        """Refuse a tenant database that is the master's, or a PostgreSQL system one."""
        # Deliberately ignores HOST and PORT ("localhost", "127.0.0.1" and "" can all
        # be the same server): a tenant may never share a configured database's name.
        for alias, configured in settings.DATABASES.items():
            same_kind = configured.get("ENGINE") == entry["ENGINE"] or (
                _is_postgres_engine(configured.get("ENGINE"))
                and _is_postgres_engine(entry["ENGINE"])
            )
            if same_kind and str(configured.get("NAME")) == str(entry["NAME"]):
                raise OmnitenantConfigurationError(
                    f"The tenant database {entry['NAME']!r} is the configured database "
                    f"{alias!r}; a tenant can never create or drop it."
                )
        if entry["ENGINE"] != _SQLITE_ENGINE and entry["NAME"] in _SYSTEM_DATABASES:
            raise OmnitenantConfigurationError(
                f"{entry['NAME']!r} is a PostgreSQL system database; choose another name."
            )


def drop_database(entry: dict[str, Any]) -> None:
    """Drop the database (or SQLite file) of the ``DATABASES``-style ``entry``.

    Never the master's, a configured one or a PostgreSQL system database.
    """
    DatabaseTenantBackend._refuse_shared(entry)
    if entry["ENGINE"] == _SQLITE_ENGINE:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(entry["NAME"] + suffix).unlink(missing_ok=True)
        return
    _execute_on_server(
        entry,
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(entry["NAME"])),
    )


def keep_database(entry: dict[str, Any], *, tenant_id: str) -> None:
    """Mark a moved tenant's old database as kept: read-only for new sessions, commented.

    Sessions that connect with an old placement can read but no longer write (their
    writes would be lost); the comment no longer marks it as a tenant's live database, so
    ``findorphans`` does not offer it; ``movetenant --purge-source`` drops it. An SQLite
    file is left as it is.
    """
    DatabaseTenantBackend._refuse_shared(entry)
    if entry["ENGINE"] == _SQLITE_ENGINE:
        return
    name = sql.Identifier(entry["NAME"])
    _execute_on_server(
        entry, sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(name)
    )
    _execute_on_server(
        entry,
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            name, sql.Literal(f"omnitenant kept source of tenant {tenant_id}")
        ),
    )


def database_exists(entry: dict[str, Any]) -> bool:
    """Tell whether the database (or SQLite file) of ``entry`` exists.

    Raises whatever connecting to its server raises when the server cannot be reached.
    """
    if entry["ENGINE"] == _SQLITE_ENGINE:
        return Path(entry["NAME"]).exists()
    rows = _query_on_server(
        entry,
        sql.SQL("SELECT 1 FROM pg_catalog.pg_database WHERE datname = {}").format(
            sql.Literal(entry["NAME"])
        ),
    )
    return bool(rows)


def _tenant_database_comment() -> str:
    master = connections[backend_settings().master_database].settings_dict.get("NAME")
    return TENANT_DATABASE_COMMENT.format(master=master)


def tenant_databases_on_server(entry: dict[str, Any]) -> list[str]:
    """The databases on ``entry``'s server that omnitenant created for this master's
    tenants, sorted."""
    rows = _query_on_server(
        entry,
        sql.SQL(
            "SELECT datname FROM pg_catalog.pg_database "
            "WHERE pg_catalog.shobj_description(oid, 'pg_database') = {} ORDER BY datname"
        ).format(sql.Literal(_tenant_database_comment())),
    )
    return [str(row[0]) for row in rows]


def _query_on_server(entry: dict[str, Any], statement: sql.Composable) -> list[tuple[Any, ...]]:
    wrapper = load_backend(entry["ENGINE"]).DatabaseWrapper(
        _with_django_defaults(entry), "omnitenant_admin"
    )
    try:
        with wrapper._nodb_cursor() as cursor:
            cursor.execute(statement)
            return list(cursor.fetchall())
    finally:
        wrapper.close()


def is_postgres_engine(engine: object) -> bool:
    """Tell whether ``engine`` is Django's PostgreSQL engine or the omnitenant one."""
    return _is_postgres_engine(engine)


def _execute_on_server(entry: dict[str, Any], statement: sql.Composable) -> None:
    """Run ``statement`` on the tenant's PostgreSQL server, outside any transaction.

    ``CREATE DATABASE`` and ``DROP DATABASE`` cannot run in a transaction block, and the
    tenant's server need not be the master's: connect with the tenant's own settings to
    the server's maintenance database.
    """
    wrapper = load_backend(entry["ENGINE"]).DatabaseWrapper(
        _with_django_defaults(entry), "omnitenant_admin"
    )
    try:
        with wrapper._nodb_cursor() as cursor:
            cursor.execute(statement)
    finally:
        wrapper.close()
