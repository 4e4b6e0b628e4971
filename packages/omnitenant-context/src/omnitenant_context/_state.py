"""The value of the tenant context: an immutable :class:`ContextState`.

A module of its own, below :mod:`omnitenant_context._protocols` (whose ``ContextListener``
receives states) and :mod:`omnitenant_context._context` (which switches them): nothing
here imports either, so there is no cycle, not even for the type checker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, final

from omnitenant_context._tenant import Tenant

__all__ = ["EMPTY_STATE", "ContextState"]


@final
@dataclass(frozen=True, slots=True)
class ContextState:
    """An immutable snapshot of the tenant context.

    Exactly one state is current in each thread, asyncio task and ``contextvars``
    context. Capture it with :meth:`TenantContext.get_state` and re-enter it elsewhere
    (another thread, a worker) with :meth:`TenantContext.use_state`.

    Attributes:
        tenant: The active tenant, or ``None``.
        master: ``True`` inside :meth:`TenantContext.use_master_db`: queries go to the
            master database and the shared schema, whatever tenant was active outside.
        schema: The schema chosen with :meth:`TenantContext.use_schema`, or ``None``.
            It overrides the tenant's own schema on PostgreSQL connections.
    """

    tenant: Tenant | None = None
    master: bool = False
    schema: str | None = None

    @property
    def is_empty(self) -> bool:
        """``True`` when no tenant, master scope or schema is active."""
        return self.tenant is None and not self.master and self.schema is None


EMPTY_STATE: Final = ContextState()
