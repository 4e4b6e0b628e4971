"""Django's ContentType cache follows the tenant: ids differ between storages.

The master and every schema tenant share the alias ``default``, but each has its own
``django_content_type`` table. Django's cache was keyed by alias alone, so a content type
looked up in one scope was answered in another: a row stored in a tenant with the master's
id, a ``DoesNotExist`` (a 500) for an id the tenant does have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction

from django_omnitenant.contenttypes import TenantKeyedCache
from omnitenant_context import TenantContext
from tests.tenantapp.models import Note

pytestmark = pytest.mark.postgres

TENANT_ID = 900_003  # far from anything a migration numbers


@pytest.fixture
def renumbered_tenant(tenant_factory: Callable[..., Any]) -> Iterator[Any]:
    """A tenant whose content type for ``Note`` has an id the master never gives it."""
    tenant = tenant_factory("ct_cache_a")
    with TenantContext.use_tenant(tenant), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM django_content_type WHERE app_label = 'tenantapp' AND model = 'note'"
        )
        row = cursor.fetchone()
        assert row is not None
        cursor.execute(
            "UPDATE django_content_type SET id = %s WHERE id = %s; "
            "UPDATE auth_permission SET content_type_id = %s WHERE content_type_id = %s",
            [TENANT_ID, row[0], TENANT_ID, row[0]],
        )
    ContentType.objects.clear_cache()
    yield tenant
    ContentType.objects.clear_cache()


def test_the_manager_cache_is_keyed_by_tenant_storage() -> None:
    # The manager's private cache dict: what bootstrap replaces, not in django-stubs.
    assert isinstance(ContentType.objects._cache, TenantKeyedCache)  # type: ignore[attr-defined]


def test_a_lookup_in_the_master_is_not_answered_in_a_tenant(renumbered_tenant: Any) -> None:
    with TenantContext.use_master_db():
        in_master = ContentType.objects.get_for_model(Note)
    assert in_master.id != TENANT_ID
    with TenantContext.use_tenant(renumbered_tenant):
        in_tenant = ContentType.objects.get_for_model(Note)
        assert in_tenant.id == TENANT_ID
        assert ContentType.objects.get_for_id(TENANT_ID).model == "note"
        with pytest.raises(ContentType.DoesNotExist):
            ContentType.objects.get_for_id(in_master.id)
        # Stored with the tenant's own id: the deferred foreign key holds at commit.
        with transaction.atomic():
            Permission.objects.create(codename="probe_note", name="Probe", content_type=in_tenant)
        assert Permission.objects.get(codename="probe_note").content_type_id == TENANT_ID
    with TenantContext.use_master_db():
        assert ContentType.objects.get_for_model(Note).id == in_master.id
        assert ContentType.objects.get_by_natural_key("tenantapp", "note").id == in_master.id


def test_a_lookup_in_a_tenant_is_not_answered_in_the_master(renumbered_tenant: Any) -> None:
    with TenantContext.use_tenant(renumbered_tenant):
        assert ContentType.objects.get_for_id(TENANT_ID).model == "note"
        assert ContentType.objects.get_by_natural_key("tenantapp", "note").id == TENANT_ID
    with TenantContext.use_master_db():
        with pytest.raises(ContentType.DoesNotExist):
            ContentType.objects.get_for_id(TENANT_ID)
        assert ContentType.objects.get_by_natural_key("tenantapp", "note").id != TENANT_ID


def test_two_tenants_keep_their_own_entries(
    renumbered_tenant: Any, tenant_factory: Callable[..., Any]
) -> None:
    other = tenant_factory("ct_cache_b")
    with TenantContext.use_tenant(renumbered_tenant):
        assert ContentType.objects.get_for_model(Note).id == TENANT_ID
    with TenantContext.use_tenant(other):
        assert ContentType.objects.get_for_model(Note).id != TENANT_ID
    with TenantContext.use_tenant(renumbered_tenant):
        assert ContentType.objects.get_for_model(Note).id == TENANT_ID
