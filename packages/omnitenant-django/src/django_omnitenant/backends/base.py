"""``BaseTenantBackend``: see :class:`omnitenant_backends.BaseTenantBackend`."""

from omnitenant_backends import BaseTenantBackend

__all__ = ["BaseTenantBackend"]
