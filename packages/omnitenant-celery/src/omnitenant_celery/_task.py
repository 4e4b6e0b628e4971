"""``TenantAwareTask``: the base class of tasks that run in the tenant that sent them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, ParamSpec, TypeVar

from celery import Task

from omnitenant_celery._headers import UNSET, Unset, explicit_tenant_id, stamp_headers
from omnitenant_celery.exceptions import TaskTenantError, TenantStoreNotInstalled
from omnitenant_context import Tenant, TenantScope
from omnitenant_context.observe import emit

if TYPE_CHECKING:
    from celery.canvas import Signature
    from celery.result import AsyncResult, EagerResult

__all__ = ["TenantAwareTask", "WorkerRecord", "get_record", "set_record", "take_record"]

logger = logging.getLogger("omnitenant_celery")

_P = ParamSpec("_P")
_R_co = TypeVar("_R_co", covariant=True)

# Where the task_prerun receiver leaves its decision for before_start and task_postrun:
# on the request object of the very execution, so nested and concurrent tasks never mix.
_RECORD_ATTR: Final = "_omnitenant_record"


@dataclass(slots=True)
class WorkerRecord:
    """What the worker decided for one execution before the task body runs.

    Attributes:
        scope: The entered context scope (the task's tenant, or no tenant), left again
            by the ``task_postrun`` receiver; ``None`` if entering it failed.
        error: Why the task is refused, or ``None`` when it may run.
    """

    scope: TenantScope | None
    error: TaskTenantError | None


def set_record(request: object, record: WorkerRecord) -> None:
    setattr(request, _RECORD_ATTR, record)


def get_record(request: object) -> WorkerRecord | None:
    record = getattr(request, _RECORD_ATTR, None)
    return record if isinstance(record, WorkerRecord) else None


def take_record(request: object) -> WorkerRecord | None:
    record = get_record(request)
    if record is not None:
        delattr(request, _RECORD_ATTR)
    return record


class TenantAwareTask(Task[_P, _R_co]):
    """A task that runs in the tenant active when it was sent.

    Use it for one task (``@app.task(base=TenantAwareTask)``, ``@shared_task(base=...)``)
    or for every task of an app (``Celery(..., task_cls=TenantAwareTask)``). The app must
    be installed with :func:`omnitenant_celery.install` in every process that runs its
    workers; a task that runs where its app is not installed is refused with
    :class:`~omnitenant_celery.exceptions.TenantStoreNotInstalled`.

    Sending (``delay``, ``apply_async``, ``apply``, and signatures in chains, groups and
    chords) puts the active tenant's id in the ``omnitenant_tenant`` message header.
    ``apply_async`` and ``apply`` also take an explicit choice, which wins over the
    active tenant::

        report.apply_async((2026,), tenant=acme)     # a Tenant
        report.apply_async((2026,), tenant_id="acme")
        report.apply_async((2026,), tenant=None)     # no tenant, even inside one

    A signature made inside a tenant (``report.s(2026)``) keeps that tenant whatever
    context it is sent from later; ``report.s(2026, ...)`` cannot carry an explicit
    tenant (its keyword arguments are the task's), use
    ``report.signature((2026,), tenant_id="acme")`` for that. The task's own arguments
    are never inspected or changed.

    In the worker, the tenant is looked up again in the installed tenant store before
    the body runs and the body runs inside ``TenantContext.use_state``; the context is
    left when the task ends, however it ends (success, exception, retry, refusal). A
    task whose tenant is gone, inactive or malformed is refused: it fails with a
    :class:`~omnitenant_celery.exceptions.TaskTenantError` without running and without
    being retried, and the refusal is logged on the ``omnitenant_celery`` logger.

    Calling the task object directly (``report(2026)``) is a plain function call: it
    runs in the caller's context.
    """

    # Expected failures: Celery stores them as the result without logging a traceback;
    # the refusal itself is logged once, with its reason, by before_start. A subclass
    # that sets its own ``throws`` should keep TaskTenantError in it.
    throws: tuple[type[Exception], ...] = (TaskTenantError,)

    def before_start(self, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Refuse the task, before its body, when its tenant could not be restored.

        Celery calls this in the worker (and in ``apply()``) after the ``task_prerun``
        receiver entered the tenant; an exception here fails the task without running
        the body and without Celery's autoretry, which only wraps the body. A subclass
        that overrides ``before_start`` must call ``super().before_start(...)`` first.
        """
        record = get_record(self.request)
        error = (
            TenantStoreNotInstalled(
                f"Task {self.name} was not run: its Celery app is not installed in this "
                "worker process. Call omnitenant_celery.install(app, store) (Django: "
                "django_omnitenant.patches.celery.install(app)) where the app is created."
            )
            if record is None
            else record.error
        )
        if error is not None:
            logger.error("Refused task %s[%s]: %s", self.name, task_id, error)
            raise error
        # Every task_prerun receiver has run: a tracing integration's task span is
        # current now, and so is the tenant (omnitenant_context.observe).
        emit("task_start", task=self.name)
        super().before_start(task_id, args, kwargs)

    def apply_async(  # noqa: PLR0917 - Celery's own positional signature
        self,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        task_id: str | None = None,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        shadow: str | None = None,
        *,
        tenant: Tenant | Literal[Unset.UNSET] | None = UNSET,
        tenant_id: str | Literal[Unset.UNSET] | None = UNSET,
        **options: Any,
    ) -> AsyncResult[_R_co]:
        """Send the task; see the class documentation for ``tenant`` and ``tenant_id``."""
        headers = stamp_headers(options.get("headers"), explicit_tenant_id(tenant, tenant_id))
        if headers is not None:
            options["headers"] = headers
        return super().apply_async(
            args, kwargs, task_id, producer, link, link_error, shadow, **options
        )

    def apply(  # noqa: PLR0917 - Celery's own positional signature
        self,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        link: Any = None,
        link_error: Any = None,
        task_id: str | None = None,
        retries: int | None = None,
        throw: bool | None = None,
        logfile: str | None = None,
        loglevel: str | None = None,
        headers: Any = None,
        *,
        tenant: Tenant | Literal[Unset.UNSET] | None = UNSET,
        tenant_id: str | Literal[Unset.UNSET] | None = UNSET,
        **options: Any,
    ) -> EagerResult[_R_co]:
        """Run the task here and now, as a worker would (tenant restored and reset)."""
        stamped = stamp_headers(headers, explicit_tenant_id(tenant, tenant_id))
        return super().apply(
            args,
            kwargs,
            link,
            link_error,
            task_id,
            retries,
            throw,
            logfile,
            loglevel,
            stamped,
            **options,
        )

    def signature(
        self, args: tuple[Any, ...] | None = None, *starargs: Any, **starkwargs: Any
    ) -> Signature[_R_co]:
        """Make a signature that keeps the tenant active now (or an explicit one).

        ``tenant=`` / ``tenant_id=`` given here are turned into the header at once, so
        the signature stays serialisable inside a chain or chord.
        """
        tenant = starkwargs.pop("tenant", UNSET)
        tenant_id = starkwargs.pop("tenant_id", UNSET)
        sig = super().signature(args, *starargs, **starkwargs)
        # Options may also arrive through an ``options=`` mapping.
        tenant = sig.options.pop("tenant", tenant)
        tenant_id = sig.options.pop("tenant_id", tenant_id)
        headers = sig.options.get("headers")
        stamped = stamp_headers(headers, explicit_tenant_id(tenant, tenant_id))
        if stamped is not headers:
            sig.options["headers"] = stamped
        return sig
