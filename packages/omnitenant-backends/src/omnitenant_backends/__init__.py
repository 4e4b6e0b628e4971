"""Isolation backends for omnitenant:
PostgreSQL schema, database per tenant and tenant-scoped cache.
"""

from omnitenant_backends.__about__ import __version__

__all__ = ["__version__"]
