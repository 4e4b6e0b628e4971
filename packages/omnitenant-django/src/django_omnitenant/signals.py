"""Signals of the tenant life cycle (see :mod:`omnitenant_backends.signals`).

``tenant_created`` and ``tenant_deleted`` are sent by the backends, ``tenant_migrated`` by
the backends, the fleet commands and the provisioning module (for a new tenant), and
``tenant_state_changed`` by :mod:`django_omnitenant.provisioning` on every lifecycle move;
``tenant_activated`` and ``tenant_deactivated`` are sent when code enters or leaves a tenant,
but only while at least one receiver is connected, so they cost nothing otherwise.
"""

from __future__ import annotations

from typing import Any

from omnitenant_backends.signals import (
    tenant_activated,
    tenant_created,
    tenant_deactivated,
    tenant_deleted,
    tenant_migrated,
    tenant_state_changed,
)
from omnitenant_context import ContextState, TenantContext

__all__ = [
    "ActivationSignalListener",
    "tenant_activated",
    "tenant_created",
    "tenant_deactivated",
    "tenant_deleted",
    "tenant_migrated",
    "tenant_state_changed",
]


class ActivationSignalListener:
    """Turns context changes into ``tenant_activated`` / ``tenant_deactivated``."""

    def context_changed(self, previous: ContextState, current: ContextState) -> None:
        # Runs on every switch: the plain list checks keep it near free while nobody
        # listens (has_listeners() walks the receivers).
        if previous.tenant is current.tenant or not (
            tenant_activated.receivers or tenant_deactivated.receivers
        ):
            return
        if previous.tenant is not None and tenant_deactivated.has_listeners():
            tenant_deactivated.send(sender=type(previous.tenant), tenant=previous.tenant)
        if current.tenant is not None and tenant_activated.has_listeners():
            tenant_activated.send(sender=type(current.tenant), tenant=current.tenant)


_listener = ActivationSignalListener()


def connect_activation_signals(**_: Any) -> None:
    """Start sending the activation signals (done by the app config's ``ready()``)."""
    TenantContext.add_listener(_listener)


def disconnect_activation_signals() -> None:
    """Stop sending the activation signals."""
    TenantContext.remove_listener(_listener)
