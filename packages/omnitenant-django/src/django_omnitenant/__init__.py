"""The omnitenant Django app: tenant models, middleware, router, admin and management commands."""

from django_omnitenant.__about__ import __version__

__all__ = ["__version__"]
