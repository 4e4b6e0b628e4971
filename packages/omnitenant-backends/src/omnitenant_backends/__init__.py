"""Isolation backends for omnitenant.

PostgreSQL schema per tenant, database per tenant (PostgreSQL or SQLite) and a
tenant-scoped cache, behind the :class:`omnitenant_context.TenantBackend` interface.
"""

from omnitenant_backends.__about__ import __version__
from omnitenant_backends._base import BaseTenantBackend
from omnitenant_backends._clone import (
    TemplateOutcome,
    TemplateRefresh,
    cloning_template,
    migrate_schema_template,
    refresh_schema_template,
)
from omnitenant_backends._dependents import StorageInUse
from omnitenant_backends._scope import (
    exclusive_schema,
    is_schema_exclusive,
    maintenance_writes,
)
from omnitenant_backends.cache import (
    CacheTenantBackend,
    TenantCacheMixin,
    clear_tenant_cache,
    tenant_cache_aliases,
)
from omnitenant_backends.database import (
    DatabaseTenantBackend,
    is_tenant_database_alias,
    tenant_database_alias,
    tenant_database_settings,
)
from omnitenant_backends.schema import (
    SchemaTenantBackend,
    is_shared_schema,
    tenant_schema_names,
)

__all__ = [
    "BaseTenantBackend",
    "CacheTenantBackend",
    "DatabaseTenantBackend",
    "SchemaTenantBackend",
    "StorageInUse",
    "TemplateOutcome",
    "TemplateRefresh",
    "TenantCacheMixin",
    "__version__",
    "clear_tenant_cache",
    "cloning_template",
    "exclusive_schema",
    "is_schema_exclusive",
    "is_shared_schema",
    "is_tenant_database_alias",
    "maintenance_writes",
    "migrate_schema_template",
    "refresh_schema_template",
    "tenant_cache_aliases",
    "tenant_database_alias",
    "tenant_database_settings",
    "tenant_schema_names",
]
