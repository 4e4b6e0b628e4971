"""Tasks the worker tests send to the real worker (registered on the test app)."""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Task
from django.core.cache import caches

from omnitenant_celery import TenantAwareTask
from omnitenant_context import TenantContext
from tests.celery.celery_app import app
from tests.tenantapp.models import Note


def where() -> dict[str, Any]:
    """What the task sees: its tenant (or ``None``) and the worker process."""
    tenant = TenantContext.get_tenant()
    return {"tenant": None if tenant is None else tenant.tenant_id, "pid": os.getpid()}


@app.task(base=TenantAwareTask)
def write_note(text: str) -> dict[str, Any]:
    Note.objects.create(text=text)
    return where()


@app.task(base=TenantAwareTask)
def whoami() -> dict[str, Any]:
    return where()


@app.task
def plain_whoami() -> dict[str, Any]:
    """Not tenant-aware: it sees the worker's own context, whatever the previous task left."""
    return where()


@app.task(base=TenantAwareTask)
def fail_in_tenant(text: str) -> None:
    Note.objects.create(text=text)
    raise ValueError(f"failing on purpose in {where()['tenant']}")


@app.task(base=TenantAwareTask, bind=True, max_retries=1)
def retry_once(self: Task[Any, Any], text: str) -> dict[str, Any]:
    """Retries itself once; both attempts write a note, so both must land in the tenant."""
    Note.objects.create(text=f"{text} attempt {self.request.retries}")
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return {**where(), "retries": self.request.retries}


@app.task(base=TenantAwareTask)
def chain_step(trail: list[str | None]) -> list[str | None]:
    return [*trail, where()["tenant"]]


@app.task(base=TenantAwareTask)
def collect(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {**where(), "parts": [part["tenant"] for part in parts]}


@app.task
def hold(key: str, timeout: float) -> None:
    """Keep the (solo) worker busy until the test sets ``key`` in the shared cache.

    Messages sent meanwhile wait in the queue, so the test can change a tenant between
    sending a task and the worker starting it, without racing a countdown.
    """
    deadline = time.monotonic() + timeout
    while caches["shared"].get(key) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"nobody released {key} within {timeout} s")
        time.sleep(0.05)
