"""``django_omnitenant.patches.celery``: the Celery integration as the API reference names it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import omnitenant_celery
from django_omnitenant.constants import TenantStatus
from django_omnitenant.patches import celery as celery_patch
from django_omnitenant.patches.celery import DjangoTenantStore, active_tenant_ids
from django_omnitenant.utils import get_tenant_model
from omnitenant_context import TenantStore


def test_the_api_reference_import_gives_the_tenant_aware_task() -> None:
    from celery import shared_task

    from django_omnitenant.patches.celery import TenantAwareTask

    assert TenantAwareTask is omnitenant_celery.TenantAwareTask

    @shared_task(base=TenantAwareTask)
    def process_tenant_data(tenant_id: str) -> str:
        return tenant_id

    assert isinstance(process_tenant_data, TenantAwareTask)
    for name in celery_patch.__all__:
        assert hasattr(celery_patch, name), name


def test_without_omnitenant_celery_the_import_names_the_distribution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "omnitenant_celery", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "django_omnitenant.patches.celery")
    with pytest.raises(ImportError, match="pip install omnitenant-celery"):
        importlib.import_module("django_omnitenant.patches.celery")


def test_the_store_is_a_tenant_store() -> None:
    store: TenantStore = DjangoTenantStore()  # checked by mypy too
    assert isinstance(store, TenantStore)


@pytest.fixture
def tenant_rows(live_db: None) -> Iterator[dict[str, Any]]:
    """Tenant rows only (no schema): enough for lookups, cheap to make."""
    model = get_tenant_model()
    rows = {
        "cel_row_b": model.objects.create(tenant_id="cel_row_b", name="B"),
        "cel_row_a": model.objects.create(tenant_id="cel_row_a", name="A"),
        "cel_row_off": model.objects.create(
            tenant_id="cel_row_off", name="Off", status=TenantStatus.SUSPENDED
        ),
    }
    yield rows
    model.objects.filter(pk__in=[row.pk for row in rows.values()]).delete()


@pytest.mark.postgres
def test_the_store_and_the_fan_out_source_see_only_active_tenants(
    tenant_rows: dict[str, Any],
) -> None:
    store = DjangoTenantStore()
    found = store.get_by_id("cel_row_a")
    assert found is not None
    assert found.tenant_id == "cel_row_a"
    assert store.get_by_id("cel_row_off") is None
    assert store.get_by_id("cel_row_missing") is None
    ids = [tenant_id for tenant_id in active_tenant_ids() if tenant_id.startswith("cel_row_")]
    assert ids == ["cel_row_a", "cel_row_b"]
