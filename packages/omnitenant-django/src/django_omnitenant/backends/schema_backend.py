"""``SchemaTenantBackend``: see :class:`omnitenant_backends.SchemaTenantBackend`."""

from omnitenant_backends import SchemaTenantBackend

__all__ = ["SchemaTenantBackend"]
