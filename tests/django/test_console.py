"""The fleet console: staff only on the public host, the fleet in bounded queries, actions
through provisioning with a confirmation, and each tenant's history."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_omnitenant import provisioning
from django_omnitenant.constants import TenantStatus
from django_omnitenant.models import TenantStateChange
from omnitenant_context import TenantContext
from tests.testapp.models import Domain, Tenant

pytestmark = pytest.mark.postgres

PUBLIC = "example.test"
CONSOLE = "/console/"


@pytest.fixture
def users(live_db: None) -> Iterator[dict[str, Any]]:
    model = get_user_model()
    made = {
        "root": model.objects.create_superuser("con_root", "r@example.test", "pw"),
        "viewer": model.objects.create_user("con_viewer", "v@example.test", "pw", is_staff=True),
        "customer": model.objects.create_user("con_customer", "c@example.test", "pw"),
    }
    yield made
    for user in made.values():
        user.delete()


def client_for(user: Any, **extra: Any) -> Client:
    client = Client(HTTP_HOST=PUBLIC, **extra)
    client.force_login(user)
    return client


@pytest.fixture
def root(users: dict[str, Any]) -> Client:
    return client_for(users["root"])


@pytest.fixture
def forget_history(live_db: None) -> Iterator[None]:
    """No history of earlier tenants with the same ids, before or after (purges write some)."""
    TenantStateChange.objects.filter(tenant_id__startswith="con_").delete()
    yield
    TenantStateChange.objects.filter(tenant_id__startswith="con_").delete()


@pytest.fixture
def acme(forget_history: None, tenant_factory: Callable[..., Any]) -> Any:
    return tenant_factory("con_acme", domains=["con-acme.example.test", "acme.example.org"])


@pytest.fixture
def bulk_rows(live_db: None) -> Iterator[Callable[[int], None]]:
    """Tenant rows without storage (fast): enough to fill pages."""

    def make(count: int) -> None:
        tenants = Tenant.objects.bulk_create(
            Tenant(tenant_id=f"con_bulk_{i:05d}", name=f"Bulk {i}") for i in range(count)
        )
        Domain.objects.bulk_create(
            Domain(tenant=tenant, domain=f"con-bulk-{i}.example.test", is_primary=True)
            for i, tenant in enumerate(tenants)
        )

    yield make
    Tenant.objects.filter(tenant_id__startswith="con_bulk_").delete()


def listed(response: Any) -> list[str]:
    """The tenant ids of the list's rows, in order."""
    return re.findall(r'href="/console/tenants/([a-z0-9_]+)/"', response.content.decode())


# -- who may use it -----------------------------------------------------------------------


def test_anonymous_users_are_sent_to_the_login(live_db: None) -> None:
    response = Client(HTTP_HOST=PUBLIC).get(CONSOLE)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/console/"


def test_users_who_are_not_staff_are_refused(users: dict[str, Any], acme: Any) -> None:
    client = client_for(users["customer"])
    assert client.get(CONSOLE).status_code == 403
    assert client.get(f"{CONSOLE}tenants/con_acme/").status_code == 403
    assert client.post(f"{CONSOLE}tenants/con_acme/suspend/", {"confirm": "yes"}).status_code == 403
    acme.refresh_from_db()
    assert acme.status == TenantStatus.ACTIVE


def test_staff_without_the_change_permission_see_but_cannot_act(
    users: dict[str, Any], acme: Any
) -> None:
    client = client_for(users["viewer"])
    assert client.get(CONSOLE).status_code == 200
    page = client.get(f"{CONSOLE}tenants/con_acme/")
    assert page.status_code == 200
    assert b"/suspend/" not in page.content
    assert client.get(f"{CONSOLE}tenants/con_acme/suspend/").status_code == 403
    assert client.post(f"{CONSOLE}tenants/con_acme/suspend/", {"confirm": "yes"}).status_code == 403
    acme.refresh_from_db()
    assert acme.status == TenantStatus.ACTIVE
    users["viewer"].user_permissions.add(Permission.objects.get(codename="change_tenant"))
    client = client_for(get_user_model().objects.get(pk=users["viewer"].pk))
    assert client.get(f"{CONSOLE}tenants/con_acme/suspend/").status_code == 200


def test_a_tenant_host_has_no_console(acme: Any, users: dict[str, Any]) -> None:
    for path in (CONSOLE, f"{CONSOLE}tenants/con_acme/", f"{CONSOLE}tenants/con_acme/suspend/"):
        assert Client(HTTP_HOST="con-acme.example.test").get(path).status_code == 404
    # Not even a session of the master's staff opens it there.
    client = client_for(users["root"])
    assert client.get(CONSOLE, HTTP_HOST="con-acme.example.test").status_code == 404


# -- the list -------------------------------------------------------------------------------


def test_the_list_shows_state_isolation_server_domains_pending_and_size(
    root: Client, tenant_factory: Callable[..., Any], acme: Any
) -> None:
    files = tenant_factory(
        "con_files", isolation_type="database", domains=["con-files.example.test"]
    )
    provisioning.suspend(files)
    response = root.get(CONSOLE, {"q": "con_"})
    assert response.status_code == 200
    assert listed(response) == ["con_acme", "con_files"]
    html = response.content.decode()
    acme_row = html[html.index("tenants/con_acme/") : html.index("tenants/con_files/")]
    assert "Active" in acme_row
    assert "Schema" in acme_row
    assert "default (master)" in acme_row
    assert "con-acme.example.test, acme.example.org" in acme_row
    # Up to date: no pending migration. Its schema has tables: some bytes, never 0.
    assert re.search(r'<td class="num">0</td>', acme_row)
    assert re.search(r'<td class="num">[\d.]+\xa0(KB|MB)</td>', acme_row)
    files_row = html[html.index("tenants/con_files/") :]
    assert "Suspended" in files_row
    assert "SQLite file" in files_row
    assert "on its page" in files_row  # its own database: read on its page


def test_pending_migrations_are_read_per_migration_state(
    root: Client, acme: Any, tenant_factory: Callable[..., Any]
) -> None:
    tenant_factory("con_beta")
    files = tenant_factory("con_files", isolation_type="database")
    for behind in (acme, files):
        with TenantContext.use_tenant(behind):
            alias = "default" if behind is acme else behind.database_alias
            with connections[alias].cursor() as cursor:
                cursor.execute("DROP TABLE django_omnitenant_tenantstatechange")
                cursor.execute("DELETE FROM django_migrations WHERE app = 'django_omnitenant'")
    html = root.get(CONSOLE, {"q": "con_"}).content.decode()
    behind = 'title="django_omnitenant.0001_tenant_state_change">1</span>'
    acme_row = html[html.index("tenants/con_acme/") : html.index("tenants/con_beta/")]
    beta_row = html[html.index("tenants/con_beta/") : html.index("tenants/con_files/")]
    assert behind in acme_row
    assert behind not in beta_row
    assert re.search(r'<td class="num">0</td>', beta_row)
    # A database tenant's own database is read on its page.
    for tenant_id in ("con_acme", "con_files"):
        page = root.get(f"{CONSOLE}tenants/{tenant_id}/").content.decode()
        assert '<span class="pending">1</span>: django_omnitenant.0001_tenant_state_change' in page


def test_search_and_filters(root: Client, tenant_factory: Callable[..., Any], acme: Any) -> None:
    files = tenant_factory(
        "con_files", isolation_type="database", domains=["con-files.example.test"]
    )
    provisioning.start_maintenance(files)
    assert listed(root.get(CONSOLE, {"q": "example.org"})) == ["con_acme"]  # by domain
    assert listed(root.get(CONSOLE, {"q": "CON_FIL"})) == ["con_files"]  # by id, any case
    assert listed(root.get(CONSOLE, {"q": "con_", "state": "maintenance"})) == ["con_files"]
    assert listed(root.get(CONSOLE, {"q": "con_", "isolation": "database"})) == ["con_files"]
    assert listed(root.get(CONSOLE, {"q": "con_", "server": "schema:default"})) == ["con_acme"]
    assert listed(root.get(CONSOLE, {"q": "con_", "server": "db:"})) == ["con_files"]
    # A value that is no state is ignored, not an error.
    assert listed(root.get(CONSOLE, {"q": "con_", "state": "bogus"})) == ["con_acme", "con_files"]


def _queries_of_page(client: Client, **query: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connections["default"]) as queries:
        response = client.get(CONSOLE, {"q": "con_bulk", **query})
    assert response.status_code == 200
    return len(queries), listed(response)


def test_a_page_costs_the_same_queries_with_10_or_200_tenants(
    root: Client, bulk_rows: Callable[[int], None]
) -> None:
    bulk_rows(10)
    few, rows = _queries_of_page(root)
    assert len(rows) == 10
    Tenant.objects.filter(tenant_id__startswith="con_bulk_").delete()
    bulk_rows(200)
    many, rows = _queries_of_page(root)
    assert len(rows) == 50  # one page
    assert many == few
    # The last page, and the filters, are bounded too.
    last, rows = _queries_of_page(root, page="4")
    assert rows[-1] == "con_bulk_00199"
    assert last == few
    filtered, _ = _queries_of_page(
        root, state="active", isolation="schema", server="schema:default"
    )
    assert filtered == few


# -- actions --------------------------------------------------------------------------------


def _confirm(client: Client, tenant_id: str, action: str, **data: str) -> Any:
    return client.post(f"{CONSOLE}tenants/{tenant_id}/{action}/", {"confirm": "yes", **data})


@pytest.mark.parametrize(
    ("start", "action", "end"),
    [
        (TenantStatus.ACTIVE, "suspend", TenantStatus.SUSPENDED),
        (TenantStatus.SUSPENDED, "resume", TenantStatus.ACTIVE),
        (TenantStatus.ACTIVE, "start_maintenance", TenantStatus.MAINTENANCE),
        (TenantStatus.MAINTENANCE, "end_maintenance", TenantStatus.ACTIVE),
        (TenantStatus.ACTIVE, "mark_for_deletion", TenantStatus.MARKED_FOR_DELETION),
        (TenantStatus.MARKED_FOR_DELETION, "restore", TenantStatus.ACTIVE),
    ],
)
def test_each_state_action_asks_first_then_goes_through_provisioning(
    root: Client,
    acme: Any,
    start: str,
    action: str,
    end: str,
    *,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if start != TenantStatus.ACTIVE:
        provisioning.set_state(acme, start)
    confirm = root.get(f"{CONSOLE}tenants/con_acme/{action}/")
    assert confirm.status_code == 200
    assert b"csrfmiddlewaretoken" in confirm.content
    acme.refresh_from_db()
    assert acme.status == start  # asking changed nothing
    # A POST without the confirmation changes nothing either.
    assert root.post(f"{CONSOLE}tenants/con_acme/{action}/").status_code == 200
    acme.refresh_from_db()
    assert acme.status == start
    with caplog.at_level(logging.INFO, logger="omnitenant.console"):
        done = _confirm(root, "con_acme", action, reason="console test")
    assert done.status_code == 302
    audit = [r.getMessage() for r in caplog.records if r.name == "omnitenant.console"]
    assert audit[0] == f"con_root asks to {action} tenant con_acme"
    assert audit[1].startswith(f"con_root: {action} tenant con_acme: Tenant con_acme ")
    assert done["Location"] == "/console/tenants/con_acme/"
    acme.refresh_from_db()
    assert acme.status == end
    latest = TenantStateChange.objects.filter(tenant_id="con_acme").first()
    assert latest is not None
    assert (latest.previous, latest.state, latest.actor) == (start, end, "con_root")


def test_a_refused_transition_says_why_and_changes_nothing(
    root: Client, acme: Any, caplog: pytest.LogCaptureFixture
) -> None:
    before = TenantStateChange.objects.filter(tenant_id="con_acme").count()
    with caplog.at_level(logging.INFO, logger="omnitenant.console"):
        response = _confirm(root, "con_acme", "end_maintenance")
    # The audit log has who asked for what, and the refusal.
    assert [r.getMessage() for r in caplog.records if r.name == "omnitenant.console"] == [
        "con_root asks to end_maintenance tenant con_acme",
        "con_root: end_maintenance tenant con_acme refused: Tenant 'con_acme' is active, "
        "not maintenance.",
    ]
    assert response.status_code == 409
    assert "not maintenance" in response.content.decode()
    acme.refresh_from_db()
    assert acme.status == TenantStatus.ACTIVE
    assert TenantStateChange.objects.filter(tenant_id="con_acme").count() == before
    # Asking for it shows no confirmation to click.
    asked = root.get(f"{CONSOLE}tenants/con_acme/end_maintenance/")
    assert asked.status_code == 409
    assert b"end maintenance is not possible" in asked.content
    assert b"csrfmiddlewaretoken" not in asked.content
    # Not offered either: the tenant page lists what its state allows.
    page = root.get(f"{CONSOLE}tenants/con_acme/").content.decode()
    assert "/end_maintenance/" not in page
    assert "/restore/" not in page
    assert "/suspend/" in page
    assert "/migrate/" in page


def test_the_migrate_action_applies_pending_migrations(root: Client, acme: Any) -> None:
    with TenantContext.use_tenant(acme), connection.cursor() as cursor:
        cursor.execute("DROP TABLE django_omnitenant_tenantstatechange")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'django_omnitenant'")
    assert _confirm(root, "con_acme", "migrate").status_code == 302
    with TenantContext.use_tenant(acme), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'django_omnitenant'")
        assert cursor.fetchone() == (1,)
    page = root.get(f"{CONSOLE}tenants/con_acme/").content.decode()
    assert "migrate: migrated" in page
    assert re.search(r"<dt>Pending migrations</dt><dd>none</dd>", page)


def test_actions_need_the_csrf_token(users: dict[str, Any], acme: Any) -> None:
    client = client_for(users["root"], enforce_csrf_checks=True)
    assert _confirm(client, "con_acme", "suspend").status_code == 403
    acme.refresh_from_db()
    assert acme.status == TenantStatus.ACTIVE
    confirm = client.get(f"{CONSOLE}tenants/con_acme/suspend/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', confirm)
    assert token is not None
    assert _confirm(client, "con_acme", "suspend", csrfmiddlewaretoken=token[1]).status_code == 302
    acme.refresh_from_db()
    assert acme.status == TenantStatus.SUSPENDED


def test_unknown_tenants_and_actions_are_404(root: Client, acme: Any) -> None:
    assert root.get(f"{CONSOLE}tenants/con_nobody/").status_code == 404
    assert root.get(f"{CONSOLE}tenants/con_acme/explode/").status_code == 404


# -- history --------------------------------------------------------------------------------


def test_the_tenant_page_shows_its_history(root: Client, acme: Any) -> None:
    shown = root.post(
        f"{CONSOLE}tenants/con_acme/suspend/",
        {"confirm": "yes", "reason": "unpaid invoice"},
        follow=True,
    )
    assert "Tenant con_acme is suspended." in shown.content.decode()  # the message
    acme.refresh_from_db()
    provisioning.activate(acme)  # from code: no actor
    page = root.get(f"{CONSOLE}tenants/con_acme/").content.decode()
    history = page[page.index("<h3>History</h3>") :]
    cell = r"<td>([^<]*)</td>"
    rows = re.findall(rf"<tr><td>[^<]*</td>{cell}{cell}{cell}{cell}</tr>", history)
    assert rows == [
        ("suspended", "active", "-", ""),
        ("active", "suspended", "con_root", "unpaid invoice"),
        ("-", "active", "-", "created"),
    ]
