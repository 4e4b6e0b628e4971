"""What each lifecycle state means where a tenant is used: requests, tasks, commands.

The states are changed by :mod:`django_omnitenant.provisioning` only; this module reads
them. ``maintenance`` is read-only, and the database enforces it. On PostgreSQL the
omnitenant engine does it wherever the context is in the tenant, a bare
``TenantContext.use_tenant()`` and a transaction-mode pooler included: every transaction
on the tenant's storage is read-only (``BaseTenant.is_read_only``). On SQLite
:func:`read_only` switches the tenant's connection to ``PRAGMA query_only`` for as long
as the tenant is used. Either way a write fails at the server, whatever code sends it.
:func:`use_tenant` is ``TenantContext.use_tenant`` with these rules and reports a refused
write as :class:`TenantReadOnly`; the middleware and ``tenantcommand`` use it, and your
own code that may meet a tenant in maintenance should too.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any, Final

from django.db import DatabaseError, connections

from django_omnitenant.conf import OmnitenantConfigurationError, app_settings
from django_omnitenant.constants import TenantStatus
from omnitenant_backends.placement import storage_alias
from omnitenant_backends.postgresql.base import DatabaseWrapper as EngineWrapper
from omnitenant_context import OmnitenantError, Tenant, TenantContext, TenantInactive

__all__ = [
    "KNOWN_STATES",
    "TenantReadOnly",
    "is_read_only_violation",
    "read_only",
    "retry_after",
    "set_read_only",
    "status_of",
    "suspended_status_code",
    "use_tenant",
]

#: States in which the tenant store still finds a tenant, so a request to its host gets
#: an answer that says why it is not served (503, 403); the others answer 404.
KNOWN_STATES: Final = frozenset(
    {
        TenantStatus.ACTIVE,
        TenantStatus.MAINTENANCE,
        TenantStatus.PROVISIONING,
        TenantStatus.SUSPENDED,
    }
)

_POSTGRES_READ_ONLY = "25006"  # SQLSTATE read_only_sql_transaction


class TenantReadOnly(OmnitenantError):
    """A write reached a tenant in maintenance; the database refused it."""


def status_of(tenant: Tenant) -> str:
    """The lifecycle state of ``tenant`` (``active`` for tenants without one)."""
    return str(getattr(tenant, "status", TenantStatus.ACTIVE))


def retry_after() -> int:
    """Seconds for the ``Retry-After`` header of a 503 (``OMNITENANT_CONFIG['RETRY_AFTER']``)."""
    return app_settings().retry_after


def suspended_status_code() -> int:
    """403 or 404, from ``OMNITENANT_CONFIG['SUSPENDED_RESPONSE']``."""
    return 404 if app_settings().suspended_response == "not_found" else 403


def set_read_only(tenant: Tenant, on: bool) -> None:
    """Switch the connection of ``tenant``'s storage to read-only transactions or back.

    Prefer :func:`read_only`, which cannot forget to switch back. A connection that
    cannot be switched back is closed: it must not be reused read-only by mistake.

    Nothing is sent for a tenant in maintenance on the omnitenant PostgreSQL engine: the
    engine makes each of its transactions read-only already, and a session setting would
    stick to a server connection that a transaction-mode pooler hands to other clients.
    """
    connection = connections[storage_alias(tenant)]
    if isinstance(connection, EngineWrapper) and getattr(tenant, "is_read_only", False):
        return
    if connection.vendor == "postgresql":
        statement = (
            "SET default_transaction_read_only = on"
            if on
            else "RESET default_transaction_read_only"
        )
    elif connection.vendor == "sqlite":
        statement = f"PRAGMA query_only = {'ON' if on else 'OFF'}"
    else:
        raise OmnitenantConfigurationError(
            f"Maintenance cannot be enforced on the {connection.vendor} database of tenant "
            f"{tenant.tenant_id!r}."
        )
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    except DatabaseError:
        if on:
            raise
        connection.close()


@contextmanager
def read_only(tenant: Tenant) -> Iterator[None]:
    """Make the connection of ``tenant``'s storage read-only for the body.

    Transactions that start inside the body are read-only at the server (for a schema
    tenant that is the master connection: master writes in the body are refused too). A
    write raises :class:`TenantReadOnly`.
    """
    set_read_only(tenant, True)
    try:
        yield
    except DatabaseError as exc:
        if is_read_only_violation(exc):
            raise TenantReadOnly(
                f"Tenant {tenant.tenant_id!r} is in maintenance (read-only): {exc}"
            ) from exc
        raise
    finally:
        set_read_only(tenant, False)


def is_read_only_violation(exc: BaseException) -> bool:
    """Whether ``exc`` is the database refusing a write in a read-only session."""
    cause: Any = exc.__cause__ or exc
    if getattr(cause, "sqlstate", None) == _POSTGRES_READ_ONLY:
        return True
    return "attempt to write a readonly database" in str(cause)


_USABLE: Final = frozenset({TenantStatus.ACTIVE, TenantStatus.MAINTENANCE})


@contextmanager
def use_tenant(tenant: Tenant, *, states: Collection[str] = _USABLE) -> Iterator[None]:
    """Enter ``tenant`` if its state is one of ``states``; read-only in maintenance.

    By default active tenants and tenants in maintenance are entered; an operator's
    command may pass more states (suspended, marked for deletion) explicitly.

    Raises:
        TenantInactive: The tenant's state is not one of ``states``.
    """
    status = status_of(tenant)
    if status not in states:
        raise TenantInactive(f"Tenant {tenant.tenant_id!r} is {status}, not active.")
    if status == TenantStatus.MAINTENANCE:
        with TenantContext.use_tenant(tenant), read_only(tenant):
            yield
        return
    with TenantContext.use_tenant(tenant):
        yield
