"""Celery integration for omnitenant: tasks run in the tenant that sent them."""

from omnitenant_celery.__about__ import __version__

__all__ = ["__version__"]
