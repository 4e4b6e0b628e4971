"""A tenant-aware Celery task, declared as the API reference shows it."""

from __future__ import annotations

from typing import Any, assert_type

from celery import shared_task
from celery.result import AsyncResult

from django_omnitenant.patches.celery import TenantAwareTask
from omnitenant_context import Tenant, TenantContext
from tests.tenantapp.models import Note


@shared_task(base=TenantAwareTask)
def count_notes(min_priority: int = 1) -> int:
    """The number of notes of the tenant that sent the task."""
    TenantContext.require_tenant()
    return Note.objects.filter(priority__gte=min_priority).count()


# celery-types types ``shared_task(base=X)`` as returning ``X`` with ``Any`` parameters:
# the task's own signature is lost (a gap of the stubs, not of omnitenant).
assert_type(count_notes, TenantAwareTask[Any, Any])


def send_count(tenant: Tenant | None, min_priority: int = 1) -> AsyncResult[Any]:
    """Send ``count_notes`` for ``tenant`` (``None``: no tenant), whatever is active now."""
    result = count_notes.apply_async((min_priority,), tenant=tenant)
    assert_type(result, AsyncResult[Any])
    return result


def send_count_by_id(tenant_id: str) -> AsyncResult[Any]:
    return count_notes.apply_async(kwargs={"min_priority": 3}, tenant_id=tenant_id)
