"""Which server a new schema tenant is placed on: the placement policy.

A project with several PostgreSQL servers lists each in ``DATABASES`` with omnitenant's
engine; each such alias is a *server* that can hold schema tenants (see
:mod:`omnitenant_backends.placement`, which routes to them). A schema tenant's
``server`` field names its server. :func:`place` fills it for a new tenant, inside
:func:`django_omnitenant.provisioning.save_new` (so every way of creating a tenant goes
through it): a server named by the caller (``createtenant --server``,
``create_tenant(server=...)``) is checked, otherwise ``OMNITENANT_CONFIG['PLACEMENT_POLICY']``
chooses among ``PLACEMENT_SERVERS`` (default: the master alone, so that adding an alias
to ``DATABASES`` never moves where new tenants go).

A policy is a function ``policy(tenant, servers) -> alias``: ``tenant`` is the new tenant
(not saved yet), ``servers`` the candidates in order. The built-in ``"fewest"`` is
:func:`fewest_tenants`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from django.core.exceptions import ValidationError
from django.db.models import Count, Q

from django_omnitenant.conf import OmnitenantConfigurationError, app_settings, backend_settings
from django_omnitenant.constants import IsolationType
from django_omnitenant.utils import get_tenant_model, import_from_setting
from omnitenant_backends.placement import UnknownServer, check_server, servers
from omnitenant_context import TenantContext

if TYPE_CHECKING:
    from django_omnitenant.models import BaseTenant

__all__ = [
    "FEWEST",
    "PlacementPolicy",
    "UnknownServer",
    "candidate_servers",
    "choose_server",
    "fewest_tenants",
    "on_server",
    "place",
    "server_of",
    "servers_in_use",
    "tenants_per_server",
]

#: A placement policy: the new tenant and the candidate servers in, one alias out.
PlacementPolicy = Callable[["BaseTenant", Sequence[str]], str]

#: The name of the built-in policy (the default of ``PLACEMENT_POLICY``).
FEWEST: Final = "fewest"


def server_of(tenant: BaseTenant) -> str:
    """The alias of the server holding ``tenant``'s schema (an empty field is the master)."""
    return tenant.server or backend_settings().master_database


def on_server(alias: str) -> Q:
    """The filter of the schema tenants on server ``alias`` (an empty field is the master)."""
    here = Q(isolation_type=IsolationType.SCHEMA, server=alias)
    if alias == backend_settings().master_database:
        here |= Q(isolation_type=IsolationType.SCHEMA, server="")
    return here


def tenants_per_server() -> dict[str, int]:
    """How many schema tenants (in any state) each server holds, by alias; one query."""
    master = backend_settings().master_database
    counts = dict.fromkeys(servers(), 0)
    with TenantContext.use_master_db():
        rows = (
            get_tenant_model()
            ._default_manager.filter(isolation_type=IsolationType.SCHEMA)
            .values("server")
            .annotate(tenants=Count("pk"))
            .order_by()
        )
        for row in rows:
            alias = row["server"] or master
            counts[alias] = counts.get(alias, 0) + int(row["tenants"])
    return counts


def servers_in_use() -> tuple[str, ...]:
    """The servers that hold at least one schema tenant, in :func:`servers` order."""
    counts = tenants_per_server()
    return tuple(alias for alias in servers() if counts.get(alias))


def fewest_tenants(tenant: BaseTenant, candidates: Sequence[str]) -> str:
    """The built-in policy: the candidate with the fewest schema tenants; the first on a tie."""
    del tenant
    counts = tenants_per_server()
    return min(candidates, key=lambda alias: counts.get(alias, 0))


def candidate_servers() -> tuple[str, ...]:
    """The servers the policy chooses from: ``PLACEMENT_SERVERS``, or the master alone.

    Placing new tenants elsewhere is opted into by listing the servers: an alias on the
    engine may be a second way to the same database (a direct alias beside a PgBouncer
    one) or a replica, and adding one to ``DATABASES`` must not change where tenants go.
    """
    listed = app_settings().placement_servers
    if not listed:
        return (backend_settings().master_database,)
    for alias in listed:
        try:
            check_server(alias)
        except UnknownServer as exc:
            raise OmnitenantConfigurationError(
                f"OMNITENANT_CONFIG['PLACEMENT_SERVERS'] lists {alias!r}: {exc}"
            ) from None
    return listed


def _policy() -> PlacementPolicy:
    path = app_settings().placement_policy
    if path == FEWEST:
        return fewest_tenants
    policy = import_from_setting("PLACEMENT_POLICY", path)
    if not callable(policy):
        raise OmnitenantConfigurationError(
            f"OMNITENANT_CONFIG['PLACEMENT_POLICY'] = {path!r} is not a function."
        )
    return policy  # type: ignore[no-any-return]  # a user's function, checked callable


def choose_server(tenant: BaseTenant) -> str:
    """The server ``PLACEMENT_POLICY`` chooses for the new schema tenant ``tenant``.

    Raises:
        OmnitenantConfigurationError: The policy cannot be imported, or it answered with
            an alias that is not a candidate server.
    """
    candidates = candidate_servers()
    chosen = _policy()(tenant, candidates)
    if chosen not in candidates:
        raise OmnitenantConfigurationError(
            f"OMNITENANT_CONFIG['PLACEMENT_POLICY'] chose {chosen!r} for tenant "
            f"{tenant.tenant_id!r}, which is not one of the candidate servers "
            f"({', '.join(candidates)})."
        )
    return chosen


def place(tenant: BaseTenant) -> None:
    """Fill a new tenant's ``server``: check the one given, or ask the policy.

    A database tenant has its own database and no server: naming one is refused.

    Raises:
        ValidationError: The server named is not a server (or given to a database tenant).
    """
    if tenant.isolation_type != IsolationType.SCHEMA:
        if tenant.server:
            raise ValidationError(
                {
                    "server": f"A {tenant.isolation_type} tenant has no server; --server (and "
                    "server=) apply to schema tenants only."
                },
                code="server_not_applicable",
            )
        return
    if tenant.server:
        try:
            check_server(tenant.server)
        except UnknownServer as exc:
            raise ValidationError({"server": str(exc)}, code="unknown_server") from None
        return
    tenant.server = choose_server(tenant)
