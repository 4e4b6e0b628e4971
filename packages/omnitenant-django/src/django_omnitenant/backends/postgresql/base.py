"""The omnitenant PostgreSQL engine (see :mod:`omnitenant_backends.postgresql.base`)."""

from omnitenant_backends.postgresql.base import DatabaseWrapper, wanted_search_path

__all__ = ["DatabaseWrapper", "wanted_search_path"]
