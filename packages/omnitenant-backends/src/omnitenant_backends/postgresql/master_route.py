"""The master route: master-scoped models reached while a schema tenant is active.

Inside a schema tenant the engine's ``search_path`` holds the tenant's schema alone, so
the shared schema's tables (tenants, domains, your master apps) cannot be found by an
unqualified name there. The router sends master-scoped models to
``<master alias>__omnitenant_master`` instead. That alias is not a second connection:
it is a stand-in, kept in the connection handler of the current thread only, that
forwards everything (transactions, savepoints, ``on_commit``, features, operations) to the
master's own wrapper and changes one thing: the cursors taken through it carry the
master's path. So a transaction that writes a tenant's rows and the master's rows is one
transaction on one server session, and each statement resolves names in exactly one of
the two places; switching between them costs no round trip (the path rides with the
statement, see :mod:`omnitenant_backends.postgresql.base`).

The stand-in is never added to ``settings.DATABASES`` nor to the handler's settings, so
nothing iterates over it (system checks, test database set-up, ``close_old_connections``)
and no extra server connection exists.
"""

from __future__ import annotations

from typing import Any, Final

from django.db import connections
from django.utils.connection import ConnectionDoesNotExist

__all__ = ["MASTER_ROUTE_SUFFIX", "MasterRoute", "is_master_route", "master_route_alias"]

MASTER_ROUTE_SUFFIX: Final = "__omnitenant_master"

# Attributes of the stand-in itself; everything else is the master wrapper's.
_OWN: Final = frozenset({"_master_alias", "_route_alias"})


class MasterRoute:
    """Stands for the master connection with the master's ``search_path``."""

    def __init__(self, master_alias: str, route_alias: str) -> None:
        object.__setattr__(self, "_master_alias", master_alias)
        object.__setattr__(self, "_route_alias", route_alias)

    @property
    def _master(self) -> Any:
        return connections[self._master_alias]

    def cursor(self) -> Any:
        """A cursor of the master connection whose statements use the master's path."""
        master = self._master
        master.omnitenant_master_route = True
        try:
            return master.cursor()
        finally:
            master.omnitenant_master_route = False

    def chunked_cursor(self) -> Any:
        master = self._master
        master.omnitenant_master_route = True
        try:
            return master.chunked_cursor()
        finally:
            master.omnitenant_master_route = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._master, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # Django's transaction code sets state on the connection (in_atomic_block,
        # needs_rollback, ...): it belongs to the one wrapper both aliases share.
        if name in _OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self._master, name, value)

    def __repr__(self) -> str:
        return f"<MasterRoute {self._route_alias} -> {self._master_alias}>"


def master_route_alias(master_alias: str) -> str:
    """The route alias of ``master_alias``, made available in this thread if needed."""
    alias = master_alias + MASTER_ROUTE_SUFFIX
    try:
        connections[alias]
    except ConnectionDoesNotExist:
        connections[alias] = MasterRoute(master_alias, alias)  # type: ignore[assignment]  # a stand-in, not a wrapper
    return alias


def is_master_route(alias: str, master_alias: str) -> bool:
    """Tell whether ``alias`` is ``master_alias``'s route."""
    return alias == master_alias + MASTER_ROUTE_SUFFIX
