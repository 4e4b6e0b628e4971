"""Django signals sent through a tenant's life cycle.

Every signal is sent with ``sender`` = the tenant's class and ``tenant`` = the tenant.
``django_omnitenant.signals`` re-exports them under the names of the API reference.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = [
    "tenant_activated",
    "tenant_created",
    "tenant_deactivated",
    "tenant_deleted",
    "tenant_migrated",
    "tenant_state_changed",
]

#: After a tenant's storage was provisioned and its migrations finished. A receiver that
#: raises makes the creation fail and be rolled back, so receivers may seed data.
tenant_created = Signal()

#: After migrations were applied to a tenant's storage, also when a new tenant's storage
#: was migrated, cloned from the template or claimed from the warm pool (then with
#: ``created=True``).
tenant_migrated = Signal()

#: After a tenant's storage was retired. ``dropped`` says whether data was dropped.
tenant_deleted = Signal()

#: When code enters a tenant (``TenantContext.use_tenant``). Sent only while a receiver
#: is connected, and then on every switch: keep receivers fast.
tenant_activated = Signal()

#: When code leaves a tenant.
tenant_deactivated = Signal()

#: After a tenant moved from one lifecycle state to another (``previous`` and ``state``
#: are the status values; see ``django_omnitenant.provisioning``). Sent inside the
#: transaction that changes the state: a receiver that raises undoes the change.
tenant_state_changed = Signal()
