"""The isolation backends, under the import paths of the API reference."""

from omnitenant_backends import (
    BaseTenantBackend,
    CacheTenantBackend,
    DatabaseTenantBackend,
    SchemaTenantBackend,
)

__all__ = [
    "BaseTenantBackend",
    "CacheTenantBackend",
    "DatabaseTenantBackend",
    "SchemaTenantBackend",
]
