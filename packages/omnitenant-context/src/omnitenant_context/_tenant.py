"""What a tenant is to every layer: the :class:`Tenant` Protocol and its isolation types.

A module of its own so that :mod:`omnitenant_context._state` (which holds a tenant) and
:mod:`omnitenant_context._protocols` (which names the state) both import it at run time:
no import cycle, so ``typing.get_type_hints`` resolves every annotation.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = ["IsolationType", "Tenant"]


class IsolationType(StrEnum):
    """Where a tenant's data lives. Chosen per tenant, so one deployment can mix them."""

    SCHEMA = "schema"
    """A PostgreSQL schema of its own inside the shared database."""

    DATABASE = "database"
    """A database of its own (PostgreSQL or an SQLite file)."""


@runtime_checkable
class Tenant(Protocol):
    """What every layer may read of a tenant.

    The members are read-only, so a frozen dataclass, a named tuple or a Django model
    with the same attributes all conform. Implementations must keep every value stable
    for the lifetime of the object: layers cache what they derive from it.

    One optional member is outside the Protocol: a tenant whose ``is_read_only`` is
    ``True`` (the Django app's tenants in maintenance) has its data served read-only;
    the PostgreSQL engine refuses writes to it while the context is in it.
    """

    @property
    def tenant_id(self) -> str:
        """The tenant's unique, immutable identifier; it obeys :func:`check_identifier`."""
        ...

    @property
    def isolation_type(self) -> str:
        """One of the :class:`IsolationType` values."""
        ...

    @property
    def schema_name(self) -> str:
        """The PostgreSQL schema that holds the tenant's tables (schema isolation)."""
        ...

    @property
    def database_alias(self) -> str:
        """The connection alias of the tenant's own database (database isolation)."""
        ...

    @property
    def cache_namespace(self) -> str:
        """The prefix that separates the tenant's cache keys from everyone else's."""
        ...
