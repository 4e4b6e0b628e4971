"""A flag, scoped like the tenant context, for work that must see one schema alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["exclusive_schema", "is_schema_exclusive"]

_exclusive: ContextVar[bool] = ContextVar("omnitenant_exclusive_schema", default=False)


def is_schema_exclusive() -> bool:
    """Tell whether the shared schema is left out of ``search_path`` right now."""
    return _exclusive.get()


@contextmanager
def exclusive_schema() -> Iterator[None]:
    """Leave the shared schema out of ``search_path`` inside the ``with`` body.

    Migrations of a tenant schema run like this. With the shared schema on the path,
    Django would find the master's ``django_migrations`` table (and every other shared
    table) before the tenant has its own, and believe the tenant already migrated.
    """
    token = _exclusive.set(True)
    try:
        yield
    finally:
        _exclusive.reset(token)
