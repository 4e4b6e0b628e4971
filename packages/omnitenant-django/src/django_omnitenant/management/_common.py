"""What the tenant commands share: finding tenants by id and naming the master."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError, CommandParser

from django_omnitenant.conf import app_settings
from django_omnitenant.utils import get_tenant_model
from omnitenant_context import TenantContext, is_valid_identifier

if TYPE_CHECKING:
    from django_omnitenant.models import BaseTenant

__all__ = [
    "add_state_argument",
    "add_tenant_argument",
    "chosen_states",
    "get_tenant_or_fail",
    "is_master_name",
    "select_tenants",
]


def add_tenant_argument(parser: CommandParser, *, required: bool = True) -> None:
    """Add ``--tenant ID`` (``--tenant master`` names the master database)."""
    master = app_settings().master_tenant_name
    parser.add_argument(
        "--tenant",
        "-t",
        required=required,
        metavar="TENANT_ID",
        help=f"The tenant to act on, by tenant id ('{master}' for the master database).",
    )


def is_master_name(value: str | None) -> bool:
    """Tell whether ``value`` names the master scope rather than a tenant."""
    return value == app_settings().master_tenant_name


def get_tenant_or_fail(tenant_id: str, *, include_inactive: bool = True) -> BaseTenant:
    """Return the tenant ``tenant_id`` or raise a ``CommandError`` that says what to do."""
    if not is_valid_identifier(tenant_id):
        raise CommandError(
            f"{tenant_id!r} is not a valid tenant id (lower-case letters, digits and '_')."
        )
    with TenantContext.use_master_db():
        tenant = get_tenant_model().objects.filter(tenant_id=tenant_id).first()
    if tenant is None:
        raise CommandError(
            f"There is no tenant {tenant_id!r}. `manage.py showtenants` lists the tenants."
        )
    if not include_inactive and not tenant.is_active:
        raise CommandError(f"Tenant {tenant_id!r} is {tenant.status}, not active.")
    return tenant


def select_tenants(
    include: Sequence[str] | None,
    exclude: Iterable[str] = (),
    *,
    statuses: Iterable[str] | None = None,
) -> list[BaseTenant]:
    """Tenants by id (all when ``include`` is empty), minus ``exclude``, by tenant id.

    Unknown ids in ``include`` or ``exclude`` are an error, not silently ignored: a typo
    must not make an operator believe a tenant was handled.
    """
    excluded = set(exclude)
    for tenant_id in [*(include or ()), *excluded]:
        get_tenant_or_fail(tenant_id)
    with TenantContext.use_master_db():
        queryset: Any = get_tenant_model().objects.order_by("tenant_id")
        if include:
            queryset = queryset.filter(tenant_id__in=list(include))
        if statuses is not None:
            queryset = queryset.filter(status__in=list(statuses))
        return [tenant for tenant in queryset if tenant.tenant_id not in excluded]


def add_state_argument(parser: CommandParser, default: Iterable[str], *, verb: str) -> None:
    """Add ``--include-state STATE`` (repeatable): states touched besides ``default``."""
    from django_omnitenant.constants import TenantStatus  # noqa: PLC0415 - needs Django set up

    parser.add_argument(
        "--include-state",
        action="append",
        default=[],
        choices=TenantStatus.values,
        metavar="STATE",
        help=f"Also {verb} tenants in this lifecycle state; repeatable. By default only: "
        f"{', '.join(default)}. States: {', '.join(TenantStatus.values)}.",
    )


def chosen_states(default: Iterable[str], options: dict[str, Any]) -> list[str]:
    """The states a fleet command touches: its default ones plus ``--include-state``."""
    states = list(default)
    for state in options["include_state"]:
        if state not in states:
            states.append(state)
    return states
