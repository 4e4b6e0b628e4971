"""The tenants of a fleet run as small records, not model instances.

A fleet command over 10,000 tenants kept 10,000 model instances (each with its state,
its field values and the storage names it was loaded with) for as long as it ran. The
fleet run needs five fields of most tenants: a schema tenant is a :class:`FleetTenant`
of a few strings. A database tenant keeps its model instance (its connection settings
and its context need it), and so does any tenant whose :meth:`FleetTenant.model` is
asked for (``--plan``, a named target: they work on each tenant anyway).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django_omnitenant.management._common import get_tenant_or_fail
from django_omnitenant.utils import get_tenant_model
from omnitenant_context import IsolationType, TenantContext

__all__ = ["FleetTenant", "select_fleet"]

#: Tenant rows read per query: the selection never holds a 10,000-row result at once.
ROWS_PER_QUERY = 2000


@dataclass(frozen=True, slots=True)
class FleetTenant:
    """What a fleet run needs of a tenant; duck-compatible with ``tenant_server``."""

    tenant_id: str
    isolation_type: str
    schema_name: str
    server: str
    created_at: datetime
    # Database tenants only: the model instance, loaded with the selection.
    instance: Any = field(default=None, compare=False)

    def model(self) -> Any:
        """The tenant's model instance (one query, unless it came with the selection)."""
        if self.instance is not None:
            return self.instance
        with TenantContext.use_master_db():
            return get_tenant_model().objects.get(tenant_id=self.tenant_id)


def select_fleet(
    include: Sequence[str] | None,
    exclude: Iterable[str] = (),
    *,
    statuses: Iterable[str] | None = None,
) -> list[FleetTenant]:
    """Tenants by id (all when ``include`` is empty), minus ``exclude``, by tenant id.

    As ``select_tenants``: unknown ids in ``include`` or ``exclude`` are an error. Rows
    are read in pages of :data:`ROWS_PER_QUERY` (keyset on the tenant id).
    """
    excluded = set(exclude)
    for tenant_id in [*(include or ()), *excluded]:
        get_tenant_or_fail(tenant_id)
    model = get_tenant_model()
    fleet: list[FleetTenant] = []
    last = ""
    with TenantContext.use_master_db():
        queryset: Any = model.objects.order_by("tenant_id")
        if include:
            queryset = queryset.filter(tenant_id__in=list(include))
        if statuses is not None:
            queryset = queryset.filter(status__in=list(statuses))
        while True:
            page = list(
                queryset.filter(tenant_id__gt=last).values_list(
                    "tenant_id", "isolation_type", "schema_name", "server", "created_at"
                )[:ROWS_PER_QUERY]
            )
            if not page:
                break
            last = page[-1][0]
            databases = {row[0] for row in page if row[1] == IsolationType.DATABASE}
            instances = (
                {tenant.tenant_id: tenant for tenant in queryset.filter(tenant_id__in=databases)}
                if databases
                else {}
            )
            for tenant_id, isolation_type, schema_name, server, created_at in page:
                if tenant_id in excluded:
                    continue
                fleet.append(
                    FleetTenant(
                        tenant_id,
                        # Few distinct values: one string each, not one per tenant.
                        sys.intern(isolation_type),
                        tenant_id if schema_name == tenant_id else schema_name,
                        sys.intern(server),
                        created_at,
                        instances.get(tenant_id),
                    )
                )
    return fleet
