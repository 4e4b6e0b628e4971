"""Run a task once per tenant, now or from celery beat, spread over a time window."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from celery import Celery, Task

from omnitenant_celery._headers import TENANT_HEADER
from omnitenant_celery._registry import get_installation
from omnitenant_celery._task import TenantAwareTask
from omnitenant_celery.exceptions import TenantStoreNotInstalled
from omnitenant_context import check_identifier

if TYPE_CHECKING:
    from celery.result import AsyncResult

__all__ = ["FAN_OUT_TASK", "fan_out", "for_each_tenant", "jitter_delay", "per_tenant_beat_entry"]

logger = logging.getLogger("omnitenant_celery")

#: The name of the task that :func:`omnitenant_celery.install` registers on the app.
FAN_OUT_TASK: Final = "omnitenant_celery.fan_out"

_HASH_SPAN: Final = float(2**64)


def jitter_delay(tenant_id: str, window: float, *, salt: str = "") -> float:
    """Return a delay in ``[0, window)`` seconds that depends only on its arguments.

    The delay is a hash of ``salt`` and ``tenant_id`` (BLAKE2b, not Python's ``hash``,
    which changes from process to process), so a tenant starts at the same offset in
    every run of a schedule and in every process, and a thousand tenants spread evenly
    over the window instead of starting in the same second. The fan-out uses the task
    name as ``salt``, so one tenant is not first in line for every job.

    Raises:
        ValueError: ``window`` is negative.
    """
    if window < 0:
        raise ValueError(f"The jitter window must not be negative, got {window}.")
    if window == 0:
        return 0.0
    digest = hashlib.blake2b(f"{salt}\0{tenant_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _HASH_SPAN * window


def for_each_tenant(
    task: Task[Any, Any] | str,
    tenant_ids: Iterable[str] | None = None,
    *,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    jitter: float = 0.0,
    app: Celery | None = None,
    **options: Any,
) -> list[AsyncResult[Any]]:
    """Send ``task`` once for every tenant, each message carrying its tenant.

    Args:
        task: A :class:`TenantAwareTask`, or the name of one (sent with
            ``app.send_task``; then ``app`` is needed unless ``task`` is an object).
        tenant_ids: The tenants to run in; by default every active tenant, from the
            ``tenant_ids`` source given to :func:`omnitenant_celery.install`. Each id
            is checked against the identifier rule before anything is sent, and each
            tenant gets one message even if its id is listed twice.
        args: Positional arguments of every message.
        kwargs: Keyword arguments of every message.
        jitter: Spread the messages over this many seconds: each is sent with a
            ``countdown`` of :func:`jitter_delay` (plus any ``countdown`` in
            ``options``). With the Redis or SQS broker keep the window well below the
            transport's ``visibility_timeout`` (one hour by default).
        app: The Celery app, needed when ``task`` is a name.
        **options: Further ``apply_async`` options, the same for every message.

    Returns:
        One result per tenant, in the order of the ids.

    Raises:
        TypeError: ``task`` is not tenant-aware (it would run without its tenant), or
            a name is given without an app.
        InvalidIdentifier: A tenant id breaks the identifier rule; nothing was sent.
        TenantStoreNotInstalled: No ids were given and the app has no tenant-id source.
    """
    if isinstance(task, Task):
        app = app or task.app
        name = task.name
        target: Task[Any, Any] | None = task
    elif app is None:
        raise TypeError(f"for_each_tenant({task!r}) needs app= when the task is given by name.")
    else:
        name = task
        # A task registered here is checked; one known only to the workers cannot be.
        target = app.tasks.get(name)
    if target is not None and not isinstance(target, TenantAwareTask):
        raise TypeError(
            f"Task {name} is not a TenantAwareTask: it would run without its tenant. "
            "Declare it with base=TenantAwareTask."
        )
    if tenant_ids is None:
        installation = get_installation(app)
        if installation is None or installation.tenant_ids is None:
            raise TenantStoreNotInstalled(
                f"for_each_tenant({name}) was given no tenant ids and the app has no source "
                "of them: pass tenant_ids=, or install(app, store, tenant_ids=...)."
            )
        tenant_ids = installation.tenant_ids()
    # All ids are checked first, so a bad id stops the fan-out before the first send.
    ids = list(dict.fromkeys(check_identifier(tid, what="tenant id") for tid in tenant_ids))
    base_countdown = float(options.pop("countdown", None) or 0.0)
    base_headers = dict(options.pop("headers", None) or {})
    call_kwargs = dict(kwargs or {})
    results: list[AsyncResult[Any]] = []
    for tenant_id in ids:
        countdown = base_countdown + jitter_delay(tenant_id, jitter, salt=name)
        headers = {**base_headers, TENANT_HEADER: tenant_id}
        if isinstance(target, TenantAwareTask):
            result = target.apply_async(
                tuple(args), call_kwargs, countdown=countdown, headers=headers, **options
            )
        else:
            result = app.send_task(
                name, tuple(args), call_kwargs, countdown=countdown, headers=headers, **options
            )
        results.append(result)
    return results


def fan_out(
    self: Task[Any, Any],
    task: str,
    *,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    jitter: float = 0.0,
    options: Mapping[str, Any] | None = None,
) -> int:
    """The ``omnitenant_celery.fan_out`` task: :func:`for_each_tenant` by name.

    Meant for celery beat (see :func:`per_tenant_beat_entry`): the schedule sends one
    ``fan_out`` message, the worker that runs it reads the active tenants and sends
    ``task`` once per tenant, spread over ``jitter`` seconds. Returns the number of
    messages sent.
    """
    results = for_each_tenant(
        task, args=tuple(args or ()), kwargs=kwargs, jitter=jitter, app=self.app, **(options or {})
    )
    logger.info("Sent %s to %d tenants over %.0f s.", task, len(results), jitter)
    return len(results)


def per_tenant_beat_entry(
    task: str,
    schedule: Any,
    *,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    jitter: float = 0.0,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a ``beat_schedule`` entry that runs ``task`` once per active tenant.

    ::

        app.conf.beat_schedule = {
            "nightly-report": per_tenant_beat_entry(
                "reports.nightly", crontab(hour=3, minute=0), jitter=1800
            ),
        }

    Each time the entry is due, beat sends one ``omnitenant_celery.fan_out`` message;
    the worker that runs it sends ``task`` to every active tenant with a countdown
    spread over ``jitter`` seconds, stable per tenant (see :func:`jitter_delay`).
    """
    return {
        "task": FAN_OUT_TASK,
        "schedule": schedule,
        "kwargs": {
            "task": task,
            "args": list(args),
            "kwargs": dict(kwargs or {}),
            "jitter": jitter,
            "options": dict(options or {}),
        },
    }
