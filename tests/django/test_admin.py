"""The admin: master models on the master host only, tenant data on the tenant's host."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from django_omnitenant.signals import tenant_created
from django_omnitenant.utils import get_tenant_backend
from omnitenant_backends.schema import schema_exists
from omnitenant_context import TenantContext
from tests.tenantapp.models import Note
from tests.testapp.models import Domain, Tenant

pytestmark = pytest.mark.postgres

MASTER = "example.test"


@pytest.fixture
def master_admin(live_db: None) -> Iterator[Client]:
    user = get_user_model().objects.create_superuser("root", "root@example.test", "pw")
    client = Client()
    client.force_login(user)
    yield client
    user.delete()


@pytest.fixture
def tenant_with_admin(tenant_factory: Any) -> tuple[Any, Client]:
    tenant = tenant_factory("adm_acme")
    Domain.objects.create(tenant=tenant, domain="adm-acme.example.test", is_primary=True)
    with TenantContext.use_tenant(tenant):
        Note.objects.create(text="acme's own note")
        user = get_user_model().objects.create_superuser("boss", "b@example.test", "pw")
    client = Client(HTTP_HOST="adm-acme.example.test")
    # The session lives in the tenant's schema: log in through the tenant's host.
    with TenantContext.use_tenant(tenant):
        client.force_login(user)
    return tenant, client


def test_master_admin_lists_tenants_but_no_tenant_data(master_admin: Client) -> None:
    index = master_admin.get("/admin/", HTTP_HOST=MASTER)
    assert index.status_code == 200
    assert b"/admin/testapp/tenant/" in index.content
    assert b"/admin/tenantapp/note/" not in index.content
    assert master_admin.get("/admin/tenantapp/note/", HTTP_HOST=MASTER).status_code == 403


def test_tenant_admin_shows_its_own_rows_and_no_master_models(
    tenant_with_admin: tuple[Any, Client], tenant_factory: Any
) -> None:
    _, client = tenant_with_admin
    other = tenant_factory("adm_other")
    with TenantContext.use_tenant(other):
        Note.objects.create(text="another tenant's note")
    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"/admin/tenantapp/note/" in index.content
    assert b"/admin/testapp/tenant/" not in index.content
    notes = client.get("/admin/tenantapp/note/")
    assert b"acme&#x27;s own note" in notes.content or b"acme's own note" in notes.content
    assert b"another tenant" not in notes.content
    assert client.get("/admin/testapp/tenant/").status_code == 403


def test_own_permissions_still_apply_on_the_master_host(live_db: None) -> None:
    staff = get_user_model().objects.create_user("staff", "s@example.test", "pw", is_staff=True)
    try:
        client = Client()
        client.force_login(staff)
        assert client.get("/admin/testapp/tenant/", HTTP_HOST=MASTER).status_code == 403
        staff.user_permissions.add(Permission.objects.get(codename="view_tenant"))
        client.force_login(get_user_model().objects.get(pk=staff.pk))
        assert client.get("/admin/testapp/tenant/", HTTP_HOST=MASTER).status_code == 200
        assert client.get("/admin/testapp/tenant/add/", HTTP_HOST=MASTER).status_code == 403
    finally:
        staff.delete()


def test_adding_a_tenant_in_the_admin_provisions_it_with_its_domains(
    master_admin: Client,
) -> None:
    form = {
        "tenant_id": "adm_new",
        "name": "New Co",
        "isolation_type": "schema",
        "schema_name": "",
        "status": "active",
        "domains-TOTAL_FORMS": "1",
        "domains-INITIAL_FORMS": "0",
        "domains-MIN_NUM_FORMS": "0",
        "domains-MAX_NUM_FORMS": "1000",
        "domains-0-domain": "New.Example.test",
        "domains-0-is_primary": "on",
    }
    domains_seen_by_receiver: list[list[str]] = []

    def record_domains(sender: Any, tenant: Any, **kwargs: Any) -> None:
        domains_seen_by_receiver.append([d.domain for d in tenant.domains.all()])

    tenant_created.connect(record_domains)
    try:
        response = master_admin.post("/admin/testapp/tenant/add/", form, HTTP_HOST=MASTER)
        assert response.status_code == 302, response.content[:2000]
        tenant = Tenant.objects.get(tenant_id="adm_new")
        assert schema_exists("adm_new")
        # tenant_created is sent once the inline's domains exist too.
        assert domains_seen_by_receiver == [["new.example.test"]]
        assert [d.domain for d in tenant.domains.all()] == ["new.example.test"]
        change = master_admin.get(f"/admin/testapp/tenant/{tenant.pk}/change/", HTTP_HOST=MASTER)
        assert change.status_code == 200
        assert b"database_config" not in change.content
        assert b'name="tenant_id"' not in change.content  # read-only once created
    finally:
        tenant_created.disconnect(record_domains)
        for tenant in Tenant.objects.filter(tenant_id="adm_new"):
            get_tenant_backend(tenant).delete(drop_data=True)
            tenant.delete()


def test_invalid_tenant_id_in_the_admin_form_creates_nothing(master_admin: Client) -> None:
    form = {
        "tenant_id": 'x"; DROP SCHEMA public; --',
        "name": "Bad",
        "isolation_type": "schema",
        "status": "active",
        "domains-TOTAL_FORMS": "0",
        "domains-INITIAL_FORMS": "0",
        "domains-MIN_NUM_FORMS": "0",
        "domains-MAX_NUM_FORMS": "1000",
    }
    response = master_admin.post("/admin/testapp/tenant/add/", form, HTTP_HOST=MASTER)
    assert response.status_code == 200
    assert b"lower-case letters" in response.content
    assert not Tenant.objects.filter(name="Bad").exists()


def test_deleting_in_the_admin_marks_first_and_purges_a_marked_tenant(
    master_admin: Client, tenant_factory: Any
) -> None:
    tenant = tenant_factory("adm_del")
    url = f"/admin/testapp/tenant/{tenant.pk}/delete/"
    first = master_admin.post(url, {"post": "yes"}, HTTP_HOST=MASTER)
    assert first.status_code == 302
    marked = Tenant.objects.get(pk=tenant.pk)
    assert marked.status == "marked_for_deletion"
    assert schema_exists("adm_del")  # data kept, as deletetenant does
    second = master_admin.post(url, {"post": "yes"}, HTTP_HOST=MASTER)
    assert second.status_code == 302
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert not schema_exists("adm_del")


def test_admin_actions_move_tenants_through_their_states(
    master_admin: Client, tenant_factory: Any
) -> None:
    tenant = tenant_factory("adm_act")
    changelist = "/admin/testapp/tenant/"

    def act(action: str) -> str:
        master_admin.post(
            changelist,
            {"action": action, "_selected_action": [str(tenant.pk)]},
            HTTP_HOST=MASTER,
        )
        return Tenant.objects.get(pk=tenant.pk).status

    assert act("suspend_tenants") == "suspended"
    assert act("start_maintenance") == "suspended"  # not allowed from suspended
    assert act("activate_tenants") == "active"
    assert act("start_maintenance") == "maintenance"
    assert act("end_maintenance") == "active"
