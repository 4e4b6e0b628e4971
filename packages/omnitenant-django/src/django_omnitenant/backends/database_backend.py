"""``DatabaseTenantBackend``: see :class:`omnitenant_backends.DatabaseTenantBackend`."""

from omnitenant_backends import DatabaseTenantBackend

__all__ = ["DatabaseTenantBackend"]
