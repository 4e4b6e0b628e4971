"""The tenant header: what a message carries, and how a worker turns it back into a tenant."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final, Literal

from omnitenant_celery.exceptions import (
    InvalidTenantHeader,
    TaskTenantError,
    TaskTenantLookupFailed,
    TaskTenantNotFound,
)
from omnitenant_context import (
    ContextState,
    InvalidIdentifier,
    Tenant,
    TenantContext,
    TenantStore,
    check_identifier,
)

__all__ = [
    "TENANT_HEADER",
    "UNSET",
    "Unset",
    "explicit_tenant_id",
    "read_tenant_header",
    "resolve_tenant_header",
    "stamp_headers",
]

#: The message header that carries the id of the tenant a task was sent in. Absent or
#: ``None``: the task was sent with no tenant and runs with none.
TENANT_HEADER: Final = "omnitenant_tenant"


class Unset(enum.Enum):
    """Type of :data:`UNSET` (an enum member, so ``Literal[Unset.UNSET]`` narrows)."""

    UNSET = enum.auto()


#: "No explicit tenant given": distinct from ``None``, which means "no tenant, on purpose".
UNSET: Final = Unset.UNSET

# The longest header value quoted back in an error message or a log line: the header
# comes from whoever could publish to the broker, so it is never echoed in full.
_QUOTE_LIMIT: Final = 80


def explicit_tenant_id(
    tenant: Tenant | Literal[Unset.UNSET] | None, tenant_id: str | Literal[Unset.UNSET] | None
) -> str | Literal[Unset.UNSET] | None:
    """Turn the ``tenant=`` / ``tenant_id=`` options of a send into one header value.

    Raises:
        TypeError: Both options were given.
        InvalidIdentifier: ``tenant_id`` breaks the identifier rule (refused at the
            sender, before anything is published).
    """
    if tenant is not UNSET and tenant_id is not UNSET:
        raise TypeError("Pass either tenant= or tenant_id=, not both.")
    if tenant is not UNSET:
        return None if tenant is None else tenant.tenant_id
    if tenant_id is not UNSET and tenant_id is not None:
        return check_identifier(tenant_id, what="tenant id")
    return tenant_id


def stamp_headers(
    headers: Mapping[str, Any] | None, explicit: str | Literal[Unset.UNSET] | None = UNSET
) -> Mapping[str, Any] | None:
    """Return ``headers`` with the tenant header decided; never mutates ``headers``.

    The first of these wins: an explicit choice (``explicit``, ``None`` included); a
    header already present (a signature frozen inside a tenant, a retry carrying its
    request's headers); the tenant active now. With none of them the headers are
    returned unchanged (the same object), so an untenanted send costs one lookup.
    """
    if explicit is UNSET:
        if headers is not None and TENANT_HEADER in headers:
            return headers
        tenant = TenantContext.get_tenant()
        if tenant is None:
            return headers
        explicit = tenant.tenant_id
    return {**(headers or {}), TENANT_HEADER: explicit}


def read_tenant_header(request: Any) -> object:
    """Return the raw tenant header of a task request (``None`` when absent).

    A worker exposes custom message headers as ``request.headers`` and as attributes
    of the request; an eager ``apply(headers=...)`` only as ``request.headers``.
    """
    headers = getattr(request, "headers", None)
    if isinstance(headers, Mapping) and TENANT_HEADER in headers:
        return headers[TENANT_HEADER]
    return getattr(request, TENANT_HEADER, None)


def resolve_tenant_header(value: object, store: TenantStore) -> ContextState | TaskTenantError:
    """Turn a raw header value into the state the task must run in, or a refusal.

    The value is checked against the identifier rule before the store is asked, so a
    malformed header never becomes a query. Returns the error rather than raising it:
    the caller decides where the refusal surfaces.
    """
    if value is None:
        return ContextState()
    try:
        tenant_id = check_identifier(value, what="tenant id in the task header")
    except InvalidIdentifier as exc:
        shown = repr(value)
        if len(shown) > _QUOTE_LIMIT:
            shown = shown[:_QUOTE_LIMIT] + "..."
        return InvalidTenantHeader(f"The task's {TENANT_HEADER} header {shown} is refused: {exc}")
    try:
        tenant = store.get_by_id(tenant_id)
    except Exception as exc:
        error = TaskTenantLookupFailed(
            f"Looking up tenant {tenant_id!r} failed ({type(exc).__name__}: {exc}); "
            "the task was not run."
        )
        error.__cause__ = exc
        return error
    if tenant is None:
        return TaskTenantNotFound(
            f"Tenant {tenant_id!r} is not active any more (deleted, suspended or unknown); "
            "the task sent in it was not run."
        )
    return ContextState(tenant=tenant)
