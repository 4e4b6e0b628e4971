"""Signals of the tenant life cycle (see :mod:`omnitenant_backends.signals`).

``tenant_created`` and ``tenant_deleted`` are sent by the backends, ``tenant_migrated`` by
the backends, the fleet commands and the provisioning module (for a new tenant), and
``tenant_state_changed`` by :mod:`django_omnitenant.provisioning` on every lifecycle move;
``tenant_activated`` and ``tenant_deactivated`` are sent when code enters or leaves a tenant,
but only while at least one receiver is connected, so they cost nothing otherwise.

The contract of ``tenant_created`` (receivers must accept ``**kwargs``; whoever sends it
keeps to this):

* ``sender``: the tenant model class; ``tenant``: the tenant, saved;
* sent once the tenant's storage exists with all its tables (migrated or cloned), inside
  the creation's transaction: a receiver that raises rolls the whole creation back;
* receivers run in the **master scope** (no tenant active): to write the tenant's own
  data a receiver enters it, ``with TenantContext.use_tenant(tenant): ...``; without that
  a shared app's rows are the master's;
* ``domains``: the tuple of the tenant's domain names saved when the signal is sent,
  primary first (the backend reads them from ``DOMAIN_MODEL`` inside the creation's
  transaction, so the domains that ``provisioning.create_tenant()``, ``createtenant`` and
  the admin save before the storage are there); empty for a tenant that has none yet,
  such as one whose ``get_tenant_backend(tenant).create()`` runs before any domain is
  saved.

omnitenant's own receiver (the per-tenant Site of ``TENANT_SITES``) keeps to it: it works
in the tenant's scope and writes the Site only once a primary domain exists.
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
_enabled = False


def _follow_receivers() -> None:
    # The listener is registered only while a receiver is connected: with none, a
    # context switch calls no listener at all (the two signals call this on every
    # connect and disconnect). A weak receiver that died keeps it registered until the
    # next change; it then finds no live receiver and sends nothing.
    if _enabled and (tenant_activated.receivers or tenant_deactivated.receivers):
        TenantContext.add_listener(_listener)
    else:
        TenantContext.remove_listener(_listener)


def connect_activation_signals(**_: Any) -> None:
    """Start sending the activation signals (done by the app config's ``ready()``)."""
    global _enabled  # noqa: PLW0603 - one switch per process, set by the app config
    _enabled = True
    for signal in (tenant_activated, tenant_deactivated):
        signal.watch(_follow_receivers)
    _follow_receivers()


def disconnect_activation_signals() -> None:
    """Stop sending the activation signals."""
    global _enabled  # noqa: PLW0603 - one switch per process, set by the app config
    _enabled = False
    for signal in (tenant_activated, tenant_deactivated):
        signal.unwatch(_follow_receivers)
    _follow_receivers()
