"""Small helpers shared by the test packages."""

from __future__ import annotations

from dataclasses import dataclass

from omnitenant_context import IsolationType


@dataclass(frozen=True, slots=True)
class PlainTenant:
    """A tenant that is not a Django model: proves the layers only need the Protocol."""

    tenant_id: str
    isolation_type: str = IsolationType.SCHEMA
    schema_name: str = ""
    database_alias: str = ""
    cache_namespace: str = ""


def plain_tenant(tenant_id: str, isolation_type: str = IsolationType.SCHEMA) -> PlainTenant:
    return PlainTenant(
        tenant_id=tenant_id,
        isolation_type=isolation_type,
        schema_name=tenant_id,
        database_alias=f"tenant_{tenant_id}",
        cache_namespace=tenant_id,
    )
