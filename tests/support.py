"""Small helpers shared by the test packages."""

from __future__ import annotations

import os
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


def per_run(name: str) -> str:
    """``name`` made unique to this test run, for names the server shares between runs.

    A PostgreSQL database (or anything else outside this run's test database and
    temporary folders) named this way is never touched by another run on the machine.
    """
    return f"{name}_{os.environ['OMNITENANT_TEST_RUN']}"
