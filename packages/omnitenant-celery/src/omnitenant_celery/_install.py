"""``install`` / ``uninstall``: switch the integration on and off for one Celery app."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Final

from celery import Celery, Task
from celery.signals import before_task_publish, task_postrun, task_prerun

from omnitenant_celery._fanout import FAN_OUT_TASK, fan_out
from omnitenant_celery._headers import (
    TENANT_HEADER,
    read_tenant_header,
    resolve_tenant_header,
)
from omnitenant_celery._registry import Installation, forget, get_installation, remember
from omnitenant_celery._task import TenantAwareTask, WorkerRecord, set_record, take_record
from omnitenant_celery.exceptions import TaskTenantError, TenantStoreNotInstalled
from omnitenant_context import EMPTY_STATE, ContextState, TenantContext, TenantStore

__all__ = ["install", "uninstall"]

logger = logging.getLogger("omnitenant_celery")

_PUBLISH_UID: Final = "omnitenant_celery.before_task_publish"
_PRERUN_UID: Final = "omnitenant_celery.task_prerun"
_POSTRUN_UID: Final = "omnitenant_celery.task_postrun"


def install(
    app: Celery,
    store: TenantStore,
    *,
    tenant_ids: Callable[[], Iterable[str]] | None = None,
) -> None:
    """Switch tenant propagation on for ``app``, in this process.

    Call it where the app is created, so that it runs in every process that sends or
    runs the app's tasks (Celery workers import that module before they fork). Calling
    it again replaces the store and the tenant-id source.

    What it does:

    * remembers ``store``: workers look each tenant-aware task's tenant up in it,
      again, right before the task runs;
    * connects three Celery signals, once per process: ``before_task_publish`` puts
      the active tenant's id in the header of every message that does not carry one
      (so ``app.send_task("name")`` and tasks sent by name keep the tenant too);
      ``task_prerun`` / ``task_postrun`` enter and leave the tenant around every
      execution of a :class:`TenantAwareTask`. The scope covers the whole execution,
      so the next steps of a chain, the callbacks and a chord's body, which the worker
      sends after the body returned, are sent in the task's tenant;
    * registers the ``omnitenant_celery.fan_out`` task on ``app`` (see
      :func:`omnitenant_celery.for_each_tenant`).

    Tasks that are not :class:`TenantAwareTask` are left alone: they run in the
    worker's own context, which has no tenant.

    Args:
        app: The Celery app.
        store: Finds usable tenants by id (the Django app hands over its cached ORM
            store). Only ``get_by_id`` is used.
        tenant_ids: Returns the ids of every active tenant; used by the fan-out when
            it is not given ids explicitly.

    Raises:
        TypeError: ``store`` has no ``get_by_id`` method.
    """
    if not callable(getattr(store, "get_by_id", None)):
        raise TypeError(f"install() needs a TenantStore, got {type(store).__name__}.")
    remember(app, Installation(store=store, tenant_ids=tenant_ids))
    # The receivers are process-wide and look the app up per task; connecting with a
    # dispatch_uid makes a second install() (or a second app) a no-op here.
    before_task_publish.connect(_stamp_published_message, weak=False, dispatch_uid=_PUBLISH_UID)
    task_prerun.connect(_enter_task_tenant, weak=False, dispatch_uid=_PRERUN_UID)
    task_postrun.connect(_leave_task_tenant, weak=False, dispatch_uid=_POSTRUN_UID)
    # Registered lazily like any task: reading app.tasks here would finalise the app
    # before the project has configured it. Registering twice replaces the first.
    # A plain Task even in an app whose task_cls is TenantAwareTask: the fan-out names
    # its tenants explicitly and must not depend on the context it was sent from.
    app.task(name=FAN_OUT_TASK, bind=True, shared=False, base=Task)(fan_out)


def uninstall(app: Celery) -> None:
    """Switch tenant propagation off for ``app``; undoes :func:`install`.

    The signals are disconnected once no app is installed any more, and the fan-out
    task is unregistered. Tenant-aware tasks of ``app`` that run afterwards are refused
    with :class:`~omnitenant_celery.exceptions.TenantStoreNotInstalled`.
    """
    if not forget(app):
        before_task_publish.disconnect(dispatch_uid=_PUBLISH_UID)
        task_prerun.disconnect(dispatch_uid=_PRERUN_UID)
        task_postrun.disconnect(dispatch_uid=_POSTRUN_UID)
    # Only a finalised app has a registry to remove it from; an app that is not yet
    # finalised registers it later, and it then refuses to run (nothing installed).
    if getattr(app, "finalized", False):
        app.tasks.pop(FAN_OUT_TASK, None)


def _stamp_published_message(headers: dict[str, Any] | None = None, **_: Any) -> None:
    # Protocol 2 (Celery's default) keeps custom headers in the message headers; this
    # is the very dict that is published, so setting a key is enough.
    if headers is None or TENANT_HEADER in headers:
        return
    tenant = TenantContext.get_tenant()
    if tenant is not None:
        headers[TENANT_HEADER] = tenant.tenant_id


def _enter_task_tenant(task: Any = None, **_: Any) -> None:
    if not isinstance(task, TenantAwareTask):
        return
    request = task.request
    installation = get_installation(task.app)
    outcome: ContextState | TaskTenantError
    if installation is None:
        outcome = TenantStoreNotInstalled(
            f"Task {task.name} was not run: its Celery app is not installed in this worker "
            "process (omnitenant_celery.install(app, store) was called for another app)."
        )
    else:
        outcome = resolve_tenant_header(read_tenant_header(request), installation.store)
    error = outcome if isinstance(outcome, TaskTenantError) else None
    # A refused task still runs its (refusing) before_start and Celery's bookkeeping
    # with no tenant at all, never in whatever context the worker thread had.
    state = EMPTY_STATE if isinstance(outcome, TaskTenantError) else outcome
    scope = TenantContext.use_state(state)
    try:
        scope.__enter__()
    except Exception as exc:
        # A context listener refused the change: refuse the task rather than run it in
        # the wrong context. Signal receivers must not raise (Celery would only log it).
        entry_error = TaskTenantError(f"Entering the task's tenant failed: {exc!r}")
        entry_error.__cause__ = exc
        set_record(request, WorkerRecord(scope=None, error=error or entry_error))
        return
    set_record(request, WorkerRecord(scope=scope, error=error))


def _leave_task_tenant(task: Any = None, **_: Any) -> None:
    if not isinstance(task, TenantAwareTask):
        return
    record = take_record(task.request)
    if record is not None and record.scope is not None:
        record.scope.__exit__(None, None, None)
