"""How ``migratealltenants`` rolls a release out: order, canary, batches, checks.

Kept apart from the command so the command stays wiring: which tenants go in which wave,
in what order, and what happens between two waves.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from collections.abc import Sequence
from typing import Any

from django.db import connections

from django_omnitenant.management._fleet_tenants import FleetTenant
from omnitenant_backends import tenant_database_alias
from omnitenant_backends.fleet import schema_sizes
from omnitenant_backends.placement import tenant_server
from omnitenant_context import IsolationType, TenantContext

__all__ = [
    "ORDERS",
    "non_negative_float",
    "order_tenants",
    "positive_float",
    "positive_int",
    "run_check",
    "waves",
]

ORDERS = ("id", "created", "size")


def positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1 (a usage error otherwise)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return number


def non_negative_float(value: str) -> float:
    """An argparse type: seconds, zero or more."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not number >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return number


def positive_float(value: str) -> float:
    """An argparse type: seconds, more than zero."""
    number = non_negative_float(value)
    if number == 0:
        raise argparse.ArgumentTypeError("0 is not a timeout; leave the option out instead")
    return number


def order_tenants(tenants: Sequence[Any], order: str) -> list[Any]:
    """The tenants in rollout order: by id, by creation, or smallest storage first.

    ``size`` reads every schema's size in one statement per server and each database
    tenant's in one query of its own; the smallest go first, so a canary is quick and a
    failure shows up before the big tenants are touched. Ties keep the id order.
    """
    by_id = sorted(tenants, key=lambda tenant: tenant.tenant_id)
    if order == "id":
        return by_id
    if order == "created":
        return sorted(by_id, key=lambda tenant: tenant.created_at)
    sizes: dict[str, int] = {}
    schema_size: dict[str, dict[str, int]] = {}  # by server
    for tenant in by_id:
        if tenant.isolation_type == IsolationType.SCHEMA:
            server = tenant_server(tenant)
            if server not in schema_size:
                schema_size[server] = schema_sizes(using=server)
            sizes[tenant.tenant_id] = schema_size[server].get(tenant.schema_name, 0)
        else:
            sizes[tenant.tenant_id] = _database_size(tenant)
    return sorted(by_id, key=lambda tenant: sizes[tenant.tenant_id])


def _database_size(tenant: Any) -> int:
    # A fleet run's record of the tenant, or the model instance itself.
    instance = tenant.model() if isinstance(tenant, FleetTenant) else tenant
    with TenantContext.use_tenant(instance):
        connection = connections[tenant_database_alias(instance)]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_database_size(current_database())")
                row = cursor.fetchone()
            return int(row[0]) if row else 0
        name = str(connection.settings_dict["NAME"])
        return os.path.getsize(name) if os.path.exists(name) else 0


def waves(tenants: Sequence[Any], *, canary: int | None, batch_size: int | None) -> list[list[Any]]:
    """The tenants cut into waves: the canary first, then batches (one wave without)."""
    rest = list(tenants)
    result: list[list[Any]] = []
    if canary:
        result.append(rest[:canary])
        rest = rest[canary:]
    size = batch_size or len(rest) or 1
    result.extend(rest[start : start + size] for start in range(0, len(rest), size))
    return [wave for wave in result if wave]


def run_check(command: str, *, wave: int, migrated: int, failed: int) -> tuple[bool, str]:
    """Run the operator's ``--check`` between two waves; tell whether to go on.

    The command runs in a shell (it is the operator's own command line) with
    ``OMNITENANT_WAVE``, ``OMNITENANT_MIGRATED`` and ``OMNITENANT_FAILED`` in its
    environment; any exit status but 0 stops the rollout.
    """
    environment = {
        **os.environ,
        "OMNITENANT_WAVE": str(wave),
        "OMNITENANT_MIGRATED": str(migrated),
        "OMNITENANT_FAILED": str(failed),
    }
    completed = subprocess.run(  # noqa: S602 - the operator's own command line
        command, shell=True, env=environment, capture_output=True, text=True, check=False
    )
    output = (completed.stdout + completed.stderr).strip()
    return completed.returncode == 0, output[-500:]
