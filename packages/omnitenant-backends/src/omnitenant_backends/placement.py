"""Placement: which PostgreSQL server (``DATABASES`` alias) holds a schema tenant.

Any ``DATABASES`` alias whose engine is omnitenant's PostgreSQL engine can hold schema
tenants: a *server*. A schema tenant names its server in a ``server`` attribute (the
Django app's ``BaseTenant.server`` field); a tenant without one, or with an empty one,
lives on the master database, so a project with one database changes nothing.

Everything that reaches a schema tenant's storage asks :func:`tenant_server`: the router
(the tenant's tables go to that alias, whose connection switches its ``search_path`` like
the master's does), the schema backend (create, migrate, drop, template, warm pool), the
transaction following of ``atomic()``. Master-scoped models always stay on the master.

An alias that is not a server is refused with :class:`UnknownServer` whenever a tenant
names it: a request never falls back to another server (fail closed).
"""

from __future__ import annotations

import functools
from typing import Any, Final

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.utils import load_backend

from omnitenant_backends.conf import OmnitenantConfigurationError, backend_settings
from omnitenant_backends.postgresql.base import TENANT_DATABASE_FLAG
from omnitenant_backends.postgresql.base import DatabaseWrapper as OmnitenantDatabaseWrapper
from omnitenant_context import IsolationType, Tenant

__all__ = [
    "SERVER_ATTRIBUTE",
    "UnknownServer",
    "check_server",
    "is_omnitenant_engine",
    "is_server",
    "placed_elsewhere",
    "servers",
    "storage_alias",
    "tenant_server",
]

#: The attribute of a tenant that names its server (an alias of ``DATABASES``).
SERVER_ATTRIBUTE: Final = "server"


class UnknownServer(OmnitenantConfigurationError):
    """A tenant names a server that is not an alias of ``DATABASES`` on the omnitenant engine."""


@functools.cache
def is_omnitenant_engine(engine: object) -> bool:
    """Whether ``engine`` (a ``DATABASES`` ``ENGINE`` path) is omnitenant's PostgreSQL engine.

    Judged by the wrapper's class, under any path that exports it (the Django app
    re-exports the engine under its own path).
    """
    if not isinstance(engine, str):
        return False
    try:
        wrapper = load_backend(engine).DatabaseWrapper
    except (ImproperlyConfigured, AttributeError, ImportError):
        return False
    return isinstance(wrapper, type) and issubclass(wrapper, OmnitenantDatabaseWrapper)


def servers() -> tuple[str, ...]:
    """Every alias that can hold schema tenants: the master first, then ``DATABASES`` order.

    The master is always one (even when it is not PostgreSQL: the system checks say
    what is wrong with it); other aliases count when their engine is omnitenant's and
    they are not a database tenant's own connection.
    """
    databases = settings.DATABASES
    master = backend_settings().master_database
    memo = _memo
    if memo and memo[0] is databases and memo[1] == master:
        known: tuple[str, ...] = memo[2]
        return known
    found = [master]
    for alias, entry in databases.items():
        if alias == master or entry.get(TENANT_DATABASE_FLAG):
            continue
        if is_omnitenant_engine(entry.get("ENGINE")):
            found.append(alias)
    _memo[:] = [databases, master, tuple(found)]
    return tuple(found)


# The DATABASES dict the servers were read from (held, so its identity cannot be reused
# by another dict), the master alias, and the servers. override_settings replaces the
# dict; the settings never change otherwise.
_memo: list[Any] = []


def is_server(alias: str) -> bool:
    """Whether ``alias`` can hold schema tenants (see :func:`servers`)."""
    return alias in servers()


def check_server(alias: object) -> str:
    """Return ``alias`` when it can hold schema tenants; raise :class:`UnknownServer`."""
    known = servers()
    if not isinstance(alias, str) or alias not in known:
        raise UnknownServer(
            f"{alias!r} is not a server for schema tenants: use an alias of DATABASES whose "
            f"ENGINE is omnitenant's PostgreSQL engine ({', '.join(known)})."
        )
    return alias


def tenant_server(tenant: Tenant) -> str:
    """The alias of the server that holds schema tenant ``tenant``'s schema.

    The tenant's ``server`` attribute, or the master when it has none. Cheap (the router
    calls it for every query): one attribute read, and a set look-up when the server is
    not the master.

    Raises:
        UnknownServer: The tenant names an alias that cannot hold schema tenants.
    """
    master = backend_settings().master_database
    alias = getattr(tenant, SERVER_ATTRIBUTE, None) or master
    if alias == master:
        return master
    if alias not in servers():
        raise UnknownServer(
            f"Tenant {tenant.tenant_id!r} lives on the server {alias!r}, which is not an "
            "alias of DATABASES on omnitenant's PostgreSQL engine: add it to DATABASES "
            "(or correct the tenant's server)."
        )
    return str(alias)


def storage_alias(tenant: Tenant) -> str:
    """The connection alias that holds ``tenant``'s tables, made usable in this thread.

    A database tenant's own alias (registered if needed), or a schema tenant's server.
    """
    if tenant.isolation_type == IsolationType.DATABASE:
        from omnitenant_backends.database import tenant_database_alias  # noqa: PLC0415 - cycle

        return tenant_database_alias(tenant)
    return tenant_server(tenant)


def placed_elsewhere(tenant: Tenant) -> str | None:
    """The server of ``tenant`` when it is a schema tenant off the master; else ``None``."""
    if tenant.isolation_type != IsolationType.SCHEMA:
        return None
    alias = tenant_server(tenant)
    return None if alias == backend_settings().master_database else alias
