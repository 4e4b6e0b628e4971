"""``CacheTenantBackend``: see :class:`omnitenant_backends.CacheTenantBackend`."""

from omnitenant_backends import CacheTenantBackend

__all__ = ["CacheTenantBackend"]
