"""Tenant-aware Celery tasks for a Django project: ``omnitenant_celery`` wired to this app.

Install the ``omnitenant-celery`` distribution (``pip install omnitenant-celery``, or
``omnitenant`` for everything), then, in the module that creates the Celery app::

    # proj/celery.py
    import os
    from celery import Celery
    from django_omnitenant.patches.celery import install

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
    app = Celery("proj")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.autodiscover_tasks()
    install(app)

    # app/tasks.py
    from celery import shared_task
    from django_omnitenant.patches.celery import TenantAwareTask

    @shared_task(base=TenantAwareTask)
    def process_tenant_data(invoice_id):
        ...  # runs in the tenant that called process_tenant_data.delay(...)

A task runs in the tenant that was active when it was sent (or the one named with
``apply_async(..., tenant=...)`` / ``tenant_id=...``); the worker looks the tenant up
again through the cached tenant store and refuses the task when the tenant was deleted
or suspended meanwhile. Task arguments are never inspected: a ``tenant_id`` parameter,
as in the API reference's example, is an ordinary argument. The details and the trust
model are in the README of ``omnitenant-celery``.
"""

from __future__ import annotations

try:
    import omnitenant_celery
except ImportError as exc:  # the distribution, or celery itself, is missing
    raise ImportError(
        "django_omnitenant.patches.celery needs the omnitenant-celery distribution: "
        "pip install omnitenant-celery (or pip install omnitenant, which includes it). "
        f"Import failed with: {exc}"
    ) from exc

from celery import Celery

from django_omnitenant import provisioning
from django_omnitenant.constants import TenantStatus
from django_omnitenant.lifecycle import status_of
from django_omnitenant.stores import get_tenant_store
from django_omnitenant.utils import get_tenant_model
from omnitenant_celery import (
    FAN_OUT_TASK,
    TENANT_HEADER,
    InvalidTenantHeader,
    TaskTenantError,
    TaskTenantLookupFailed,
    TaskTenantNotFound,
    TenantAwareTask,
    TenantStoreNotInstalled,
    for_each_tenant,
    jitter_delay,
    per_tenant_beat_entry,
    uninstall,
)
from omnitenant_context import Tenant, TenantContext

__all__ = [
    "FAN_OUT_TASK",
    "TENANT_HEADER",
    "DjangoTenantStore",
    "InvalidTenantHeader",
    "TaskTenantError",
    "TaskTenantLookupFailed",
    "TaskTenantNotFound",
    "TenantAwareTask",
    "TenantStoreNotInstalled",
    "active_tenant_ids",
    "for_each_tenant",
    "install",
    "jitter_delay",
    "per_tenant_beat_entry",
    "uninstall",
]


class DjangoTenantStore:
    """The process-wide cached ORM store, looked up on every call; active tenants only.

    ``get_tenant_store()`` is rebuilt when the omnitenant settings change; asking for
    it per lookup (a global read) keeps a store handed to Celery at start-up current,
    and needs no database or app registry when the Celery app module is imported. A
    tenant in any other lifecycle state (provisioning, suspended, maintenance, marked
    for deletion, failed) is ``None``: its tasks are refused.
    """

    def get_by_id(self, tenant_id: str) -> Tenant | None:
        return _active(get_tenant_store().get_by_id(tenant_id))

    def get_by_domain(self, domain: str) -> Tenant | None:
        return _active(get_tenant_store().get_by_domain(domain))


def _active(tenant: Tenant | None) -> Tenant | None:
    if tenant is None or status_of(tenant) != TenantStatus.ACTIVE:
        return None
    return tenant


def active_tenant_ids() -> list[str]:
    """The ids of every active tenant, from the master database, in id order."""
    with TenantContext.use_master_db():
        return list(
            get_tenant_model()
            .objects.active()
            .order_by("tenant_id")
            .values_list("tenant_id", flat=True)
        )


def install(app: Celery) -> None:
    """Switch tenant-aware tasks on for ``app`` with this project's tenants.

    :func:`omnitenant_celery.install` with the cached ORM tenant store (a warm lookup
    costs no query; deleting or suspending a tenant reaches every worker through the
    shared cache version, see :mod:`django_omnitenant.stores`) and
    :func:`active_tenant_ids` as the source of the fan-out, and the task of background
    provisioning (:data:`django_omnitenant.provisioning.PROVISION_TASK_NAME`). Undo it
    with :func:`uninstall`.
    """
    omnitenant_celery.install(app, DjangoTenantStore(), tenant_ids=active_tenant_ids)
    # The task that finishes background provisioning (createtenant --background).
    provisioning.register_celery_app(app)
