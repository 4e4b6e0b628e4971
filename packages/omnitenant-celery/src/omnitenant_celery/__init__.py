"""omnitenant-celery: Celery tasks that run in the tenant that sent them.

::

    from celery import Celery
    from omnitenant_celery import TenantAwareTask, install

    app = Celery("proj")
    install(app, store)  # a TenantStore; the Django app hands over its own

    @app.task(base=TenantAwareTask)
    def send_invoice(invoice_id: int) -> None:
        ...  # runs in the tenant that called send_invoice.delay(...)

The tenant travels as its id in the ``omnitenant_tenant`` message header; the worker
looks it up again in the store, runs the task inside ``TenantContext.use_state`` and
leaves the context afterwards. A task whose tenant is gone is refused, not run. This
package does not import Django; ``django_omnitenant.patches.celery`` wires it to the
Django app.
"""

from omnitenant_celery.__about__ import __version__
from omnitenant_celery._fanout import (
    FAN_OUT_TASK,
    for_each_tenant,
    jitter_delay,
    per_tenant_beat_entry,
)
from omnitenant_celery._headers import TENANT_HEADER
from omnitenant_celery._install import install, uninstall
from omnitenant_celery._task import TenantAwareTask
from omnitenant_celery.exceptions import (
    InvalidTenantHeader,
    TaskTenantError,
    TaskTenantLookupFailed,
    TaskTenantNotFound,
    TenantStoreNotInstalled,
)

__all__ = [
    "FAN_OUT_TASK",
    "TENANT_HEADER",
    "InvalidTenantHeader",
    "TaskTenantError",
    "TaskTenantLookupFailed",
    "TaskTenantNotFound",
    "TenantAwareTask",
    "TenantStoreNotInstalled",
    "__version__",
    "for_each_tenant",
    "install",
    "jitter_delay",
    "per_tenant_beat_entry",
    "uninstall",
]
