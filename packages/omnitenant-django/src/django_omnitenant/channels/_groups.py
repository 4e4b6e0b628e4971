"""Group names per tenant, on any channel layer."""

from __future__ import annotations

from typing import Any

from channels.layers import BaseChannelLayer, InMemoryChannelLayer

from omnitenant_context import TenantContext

__all__ = ["TenantGroupsMixin", "TenantInMemoryChannelLayer", "tenant_group_name"]

# Tenant ids hold no '.', so "t.<id>." cannot be read two ways, and no tenant's
# namespace can be "public.": the two kinds of prefix start differently.
_PUBLIC_PREFIX = "public."


def tenant_group_name(group: str) -> str:
    """The layer-wide name of ``group`` for the active tenant.

    ``"t.acme.chat"`` inside tenant ``acme``; ``"public.chat"`` with no tenant active
    (the public host, ``use_master_db()``, a task of no tenant).
    """
    tenant = TenantContext.get_tenant()
    if tenant is None:
        return _PUBLIC_PREFIX + group
    return f"t.{tenant.tenant_id}.{group}"


class TenantGroupsMixin(BaseChannelLayer):
    """Namespaces every group name by the active tenant; put it before the layer class.

    ``group_add``, ``group_discard`` and ``group_send`` take the names the application
    uses (``"chat"``) and pass the tenant's name (``"t.acme.chat"``) to the layer.
    Channel names (one per consumer, random) are not touched. The prefix counts against
    the layer's 100-character limit on names.
    """

    async def group_add(self, group: str, channel: str) -> Any:
        return await super().group_add(tenant_group_name(group), channel)  # type: ignore[no-untyped-call]  # Channels is untyped

    async def group_discard(self, group: str, channel: str) -> Any:
        return await super().group_discard(tenant_group_name(group), channel)  # type: ignore[no-untyped-call]  # Channels is untyped

    async def group_send(self, group: str, message: dict[str, Any]) -> Any:
        return await super().group_send(tenant_group_name(group), message)  # type: ignore[no-untyped-call]  # Channels is untyped


class TenantInMemoryChannelLayer(TenantGroupsMixin, InMemoryChannelLayer):
    """Channels' in-memory layer (one process: tests, development) with tenant groups."""
