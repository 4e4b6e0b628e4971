"""What one page of the fleet console shows, in a number of queries that does not grow.

Per page, whatever the number of tenants: the count and the page's rows (Django's
paginator), their domains (one prefetch), the applied migrations of the page's schemas
(two statements for a page of up to 100 schemas,
:func:`~omnitenant_backends.fleet.applied_migrations_by_schema`), their
sizes (one catalog query), the sizes of the page's PostgreSQL tenant databases on the
master's server (one query), and the server filter's choices (one query). Pending
migrations are computed once per distinct migration state, as the fleet executor groups
tenants: the set of migrations a tenant must have, minus the set it has.

A database tenant's pending migrations need a connection to its own database, so the
list leaves them to the tenant's page (one tenant, one connection); so does the size of
a tenant database on another server.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import QueryDict

from django_omnitenant.conf import BackendSettings, backend_settings
from django_omnitenant.constants import TenantStatus
from django_omnitenant.utils import get_domain_model, get_tenant_model
from omnitenant_backends import tenant_database_alias
from omnitenant_backends.database import is_postgres_engine, tenant_database_settings
from omnitenant_backends.fleet import (
    Migration,
    applied_migrations_by_schema,
    applied_migrations_in_database,
    required_tenant_migrations,
    schema_sizes,
)
from omnitenant_context import IsolationType, TenantContext

__all__ = [
    "PAGE_SIZE",
    "FleetFilters",
    "TenantRow",
    "fleet_page",
    "server_choices",
    "tenant_row",
]

#: Tenants per page of the console.
PAGE_SIZE: Final = 50
# The placement field of the tenant model (the server alias of a schema), when it has one.
_SERVER_FIELD: Final = "server"
# The server filter's values: "schema:<alias>" and "db:<host>".
_SCHEMA_KIND: Final = "schema"
_DATABASE_KIND: Final = "db"


@dataclass(frozen=True)
class FleetFilters:
    """The list's search and filters, as read from the query string (bad values ignored)."""

    search: str = ""
    state: str = ""
    isolation: str = ""
    server: str = ""

    @classmethod
    def from_query(cls, query: QueryDict | Mapping[str, str]) -> FleetFilters:
        state = str(query.get("state", ""))
        isolation = str(query.get("isolation", ""))
        return cls(
            search=str(query.get("q", "")).strip()[:200],
            state=state if state in TenantStatus.values else "",
            isolation=isolation if isolation in {m.value for m in IsolationType} else "",
            server=str(query.get("server", ""))[:300],
        )

    def apply(self, tenants: QuerySet[Any]) -> QuerySet[Any]:
        """``tenants`` narrowed to what the filters ask for."""
        if self.search:
            domains = get_domain_model()._default_manager.filter(
                tenant=OuterRef("pk"), domain__icontains=self.search
            )
            tenants = tenants.filter(
                Q(tenant_id__icontains=self.search)
                | Q(name__icontains=self.search)
                | Exists(domains)
            )
        if self.state:
            tenants = tenants.filter(status=self.state)
        if self.isolation:
            tenants = tenants.filter(isolation_type=self.isolation)
        if self.server:
            tenants = _on_server(tenants, self.server)
        return tenants

    def query_string(self) -> str:
        """The filters as a query string (for the pages' links), without the page."""
        query = QueryDict(mutable=True)
        for key, value in (
            ("q", self.search),
            ("state", self.state),
            ("isolation", self.isolation),
            ("server", self.server),
        ):
            if value:
                query[key] = value
        return query.urlencode()


@dataclass(frozen=True)
class TenantRow:
    """One tenant as the console shows it.

    ``pending`` is ``None`` when it was not computed (database tenants on the list);
    ``size`` is ``None`` when it is unknown (a tenant database on another server).
    ``problem`` says why a tenant page could not read them.
    """

    tenant: Any
    server: str
    domains: tuple[str, ...]
    pending: tuple[str, ...] | None
    size: int | None
    problem: str = ""


def _has_server_field() -> bool:
    model = get_tenant_model()
    return any(field.name == _SERVER_FIELD for field in model._meta.get_fields())


def _schema_alias(tenant: Any, conf: BackendSettings) -> str:
    """The ``DATABASES`` alias whose server holds a schema tenant (its placement, else the
    master)."""
    return str(getattr(tenant, _SERVER_FIELD, "") or conf.master_database)


def _server_of(tenant: Any, conf: BackendSettings) -> str:
    """Where a tenant's storage lives: a schema's server alias, a database's host."""
    if tenant.isolation_type == IsolationType.SCHEMA:
        alias = _schema_alias(tenant, conf)
        return f"{alias} (master)" if alias == conf.master_database else alias
    entry = tenant_database_settings(tenant)
    if not is_postgres_engine(entry.get("ENGINE")):
        return "SQLite file"
    return f"{entry.get('HOST') or 'localhost'}:{entry.get('PORT') or 5432}"


def _on_server(tenants: QuerySet[Any], server: str) -> QuerySet[Any]:
    kind, _, name = server.partition(":")
    if kind == _SCHEMA_KIND:
        schemas = tenants.filter(isolation_type=IsolationType.SCHEMA)
        if not _has_server_field():
            return schemas if name == backend_settings().master_database else tenants.none()
        if name == backend_settings().master_database:
            return schemas.filter(Q((f"{_SERVER_FIELD}__in", ["", name])))
        return schemas.filter(Q((_SERVER_FIELD, name)))
    if kind == _DATABASE_KIND:
        database = tenants.filter(isolation_type=IsolationType.DATABASE)
        if name:
            return database.filter(database_config__HOST=name)
        return database.filter(Q(database_config__HOST__isnull=True) | Q(database_config__HOST=""))
    return tenants.none()


def server_choices() -> list[tuple[str, str]]:
    """The server filter's (value, label) choices: one query per isolation type at most."""
    conf = backend_settings()
    # Any: the placement field is the project's model's, unknown to the type checker.
    tenants: Any = get_tenant_model()._default_manager
    aliases = {conf.master_database}
    if _has_server_field():
        placed = (
            tenants.filter(isolation_type=IsolationType.SCHEMA)
            .order_by()
            .values_list(_SERVER_FIELD, flat=True)
            .distinct()
        )
        aliases |= {str(alias) for alias in placed if alias}
    choices = [
        (
            f"{_SCHEMA_KIND}:{alias}",
            f"{alias} (schemas{', master' if alias == conf.master_database else ''})",
        )
        for alias in sorted(aliases)
    ]
    hosts = (
        tenants.filter(isolation_type=IsolationType.DATABASE)
        .order_by()
        .values_list("database_config__HOST", flat=True)
        .distinct()
    )
    choices.extend(
        (f"{_DATABASE_KIND}:{host}", f"{host} (tenant databases)" if host else "default host")
        for host in sorted({str(host or "") for host in hosts})
    )
    return choices


def _tenants() -> QuerySet[Any]:
    domain_model = get_domain_model()
    # Any: "domains" is the reverse relation of the concrete domain model.
    tenants: Any = get_tenant_model()._default_manager
    queryset: QuerySet[Any] = tenants.order_by("tenant_id").prefetch_related(
        Prefetch(
            "domains", queryset=domain_model._default_manager.order_by("-is_primary", "domain")
        )
    )
    return queryset


_required_cache: tuple[BackendSettings, frozenset[Migration]] | None = None


def _required() -> frozenset[Migration]:
    """The migrations a tenant must have: the graph is loaded once per settings object."""
    global _required_cache  # noqa: PLW0603 - a per-process cache of the migration graph
    conf = backend_settings()
    cached = _required_cache
    if cached is None or cached[0] is not conf:
        cached = (conf, required_tenant_migrations())
        _required_cache = cached
    return cached[1]


def _pending_by_state(
    required: frozenset[Migration], applied: Iterable[frozenset[Migration]]
) -> dict[frozenset[Migration], tuple[str, ...]]:
    """Pending migrations per distinct applied set: one difference per state, not per tenant."""
    return {
        state: tuple(f"{app}.{name}" for app, name in sorted(required - state))
        for state in set(applied)
    }


def fleet_page(
    filters: FleetFilters, page_number: str | int | None, *, per_page: int = PAGE_SIZE
) -> tuple[Page[Any], list[TenantRow]]:
    """The page ``page_number`` of the tenants ``filters`` selects, with their rows."""
    with TenantContext.use_master_db():
        paginator = Paginator(filters.apply(_tenants()), per_page)
        page = paginator.get_page(page_number)
        return page, _rows(list(page.object_list))


def tenant_row(tenant: Any) -> TenantRow:
    """One tenant's row for its own page: database tenants are asked too (one connection)."""
    with TenantContext.use_master_db():
        (row,) = _rows([tenant])
    if tenant.isolation_type != IsolationType.DATABASE:
        return row
    try:
        with TenantContext.use_tenant(tenant):
            alias = tenant_database_alias(tenant)
            applied = applied_migrations_in_database(alias)
            size = row.size if row.size is not None else _own_database_size(alias)
    except Exception as exc:  # an unreachable server is shown on the page, not a 500
        return TenantRow(
            row.tenant, row.server, row.domains, None, row.size, f"{type(exc).__name__}: {exc}"
        )
    pending = _pending_by_state(_required(), [applied])[applied]
    return TenantRow(row.tenant, row.server, row.domains, pending, size)


def _rows(tenants: Sequence[Any]) -> list[TenantRow]:
    conf = backend_settings()
    # The page's schemas, by the server that holds them: two statements and one for the
    # sizes per server on the page, never per tenant.
    by_alias: dict[str, list[str]] = {}
    for tenant in tenants:
        if tenant.isolation_type == IsolationType.SCHEMA:
            by_alias.setdefault(_schema_alias(tenant, conf), []).append(tenant.schema_name)
    applied: dict[tuple[str, str], frozenset[Migration]] = {}
    sizes: dict[tuple[str, str], int] = {}
    for alias, schemas in by_alias.items():
        for schema, names in applied_migrations_by_schema(using=alias, schemas=schemas).items():
            applied[alias, schema] = names
        for schema, size in schema_sizes(using=alias, schemas=schemas).items():
            sizes[alias, schema] = size
    database_sizes = _database_sizes(
        [t for t in tenants if t.isolation_type == IsolationType.DATABASE], conf
    )
    required = _required() if by_alias else frozenset()
    pending = _pending_by_state(
        required,
        (
            applied.get((alias, schema), frozenset())
            for alias, schemas in by_alias.items()
            for schema in schemas
        ),
    )
    rows = []
    for tenant in tenants:
        domains = tuple(domain.domain for domain in tenant.domains.all())
        server = _server_of(tenant, conf)
        if tenant.isolation_type == IsolationType.SCHEMA:
            key = (_schema_alias(tenant, conf), tenant.schema_name)
            state = applied.get(key, frozenset())
            rows.append(TenantRow(tenant, server, domains, pending[state], sizes.get(key, 0)))
        else:
            rows.append(
                TenantRow(tenant, server, domains, None, database_sizes.get(tenant.tenant_id))
            )
    return rows


def _same_server(entry: Mapping[str, Any], master: Mapping[str, Any]) -> bool:
    def address(settings: Mapping[str, Any]) -> tuple[str, str]:
        return (str(settings.get("HOST") or "localhost"), str(settings.get("PORT") or 5432))

    return address(entry) == address(master)


def _database_sizes(tenants: Collection[Any], conf: BackendSettings) -> dict[str, int]:
    """Sizes of tenant databases that need no connection of their own.

    SQLite files are measured on disk; PostgreSQL databases on the master's server in one
    query on the master connection. Others are left out (unknown on the list).
    """
    master = connections[conf.master_database]
    on_master: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for tenant in tenants:
        entry = tenant_database_settings(tenant)
        if not is_postgres_engine(entry.get("ENGINE")):
            name = str(entry.get("NAME") or "")
            if os.path.exists(name):
                sizes[tenant.tenant_id] = os.path.getsize(name)
        elif master.vendor == "postgresql" and _same_server(entry, master.settings_dict):
            on_master[str(entry["NAME"])] = tenant.tenant_id
    if on_master:
        with master.cursor() as cursor:
            cursor.execute(
                "SELECT datname, pg_catalog.pg_database_size(oid) FROM pg_catalog.pg_database "
                "WHERE datname = ANY(%s)",
                [sorted(on_master)],
            )
            for name, size in cursor.fetchall():
                sizes[on_master[name]] = int(size)
    return sizes


def _own_database_size(alias: str) -> int | None:
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_catalog.pg_database_size(current_database())")
        row = cursor.fetchone()
    return int(row[0]) if row else None
