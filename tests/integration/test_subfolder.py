"""Subfolder routing: an unchanged app, its admin and its login redirects under /t/<tenant>/.

The same URLconf (tests/integration/subfolder_urls.py) is served two ways: by host
(``acme.example.test/where/``) and by path (``app.example.test/t/acme/where/``). Under
the path resolver the URLconf never sees ``/t/acme``, and every URL Django builds
(``reverse()``, redirects, the admin's links, the login redirect) carries it again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client, override_settings
from django.urls import get_script_prefix

from omnitenant_context import TenantContext
from tests.integration.asgi import asgi_get
from tests.tenantapp.models import Note
from tests.testapp.models import Domain, Tenant

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class Routing:
    """Where a tenant's pages are: on which host, below which path."""

    name: str
    resolver: str
    host: str  # {tenant} is replaced by the tenant's id
    base: str  # likewise

    def url(self, tenant: str, path: str) -> str:
        return self.base.format(tenant=tenant) + path

    def host_of(self, tenant: str) -> str:
        return self.host.format(tenant=tenant)


BY_HOST = Routing(
    "host", "django_omnitenant.resolvers.CustomDomainTenantResolver", "{tenant}.example.test", ""
)
BY_PATH = Routing(
    "subfolder",
    "django_omnitenant.resolvers.PathPrefixTenantResolver",
    "app.example.test",
    "/t/{tenant}",
)


@pytest.fixture(scope="module")
def _tenants(django_db_setup: None, django_db_blocker: Any) -> Iterator[list[Any]]:
    from django_omnitenant.utils import get_tenant_backend

    created: list[Any] = []
    with django_db_blocker.unblock():
        try:
            for tenant_id in ("sub_acme", "sub_globex"):
                tenant = Tenant.objects.create(tenant_id=tenant_id, name=tenant_id)
                created.append(tenant)
                get_tenant_backend(tenant).create(run_migrations=True)
                Domain.objects.create(
                    tenant=tenant, domain=f"{tenant_id.replace('_', '-')}.example.test"
                )
                with TenantContext.use_tenant(tenant):
                    get_user_model().objects.create_superuser("boss", "boss@example.test", "pw")
            yield created
        finally:
            for tenant in created:
                get_tenant_backend(tenant).delete(drop_data=True)
                tenant.delete()


def _tenants_by_id() -> dict[str, Any]:
    return {
        tenant.tenant_id: tenant for tenant in Tenant.objects.filter(tenant_id__startswith="sub_")
    }


@pytest.fixture(params=[BY_HOST, BY_PATH], ids=lambda routing: routing.name)
def routing(request: pytest.FixtureRequest, _tenants: list[Any]) -> Iterator[Routing]:
    chosen: Routing = request.param
    config = {**settings.OMNITENANT_CONFIG, "TENANT_RESOLVER": chosen.resolver}
    with override_settings(
        OMNITENANT_CONFIG=config,
        ROOT_URLCONF="tests.integration.subfolder_urls",
        LOGIN_URL="login",
    ):
        yield chosen


def _host(routing: Routing, tenant: str) -> str:
    # Domains spell the tenant id with '-' (host names hold no '_').
    return routing.host_of(tenant.replace("_", "-")) if routing is BY_HOST else routing.host


def get(routing: Routing, tenant: str, path: str, client: Client | None = None) -> Any:
    return (client or Client()).get(routing.url(tenant, path), HTTP_HOST=_host(routing, tenant))


def test_reverse_and_absolute_urls_carry_the_tenant_segment(routing: Routing) -> None:
    response = get(routing, "sub_acme", "/where/?x=1")
    assert response.status_code == 200
    base = routing.url("sub_acme", "")
    host = _host(routing, "sub_acme")
    assert json.loads(response.content) == {
        "reverse": f"{base}/where/",
        "absolute": f"http://{host}{base}/where/?x=1",
        "absolute_of_reverse": f"http://{host}{base}/where/",
        "path": f"{base}/where/",
        "path_info": "/where/",
        "full_path": f"{base}/where/?x=1",
        "script_prefix": f"{base}/",
    }
    # The prefix is the request's only: restored once the response is made.
    assert get_script_prefix() == "/"


def test_a_redirect_by_url_name_stays_in_the_tenant(routing: Routing) -> None:
    response = get(routing, "sub_acme", "/go/")
    assert response.status_code == 302
    assert response["Location"] == routing.url("sub_acme", "/where/")


def test_login_required_redirects_to_the_tenants_login(routing: Routing) -> None:
    response = get(routing, "sub_acme", "/private/")
    assert response.status_code == 302
    login = routing.url("sub_acme", "/login/")
    back = routing.url("sub_acme", "/private/")
    assert response["Location"] == f"{login}?next={back}"
    assert get(routing, "sub_acme", "/login/").content == b"the login page"


def test_the_admin_works_with_its_login_and_links(routing: Routing) -> None:
    client = Client()
    admin = routing.url("sub_acme", "/admin/")
    response = get(routing, "sub_acme", "/admin/", client)
    assert response.status_code == 302
    assert response["Location"] == f"{admin}login/?next={admin}"

    response = client.post(
        f"{admin}login/",
        {"username": "boss", "password": "pw", "next": admin},
        HTTP_HOST=_host(routing, "sub_acme"),
    )
    assert response.status_code == 302, response.content
    assert response["Location"] == admin

    index = get(routing, "sub_acme", "/admin/", client)
    assert index.status_code == 200
    page = index.content.decode()
    assert f'href="{admin}tenantapp/note/"' in page
    assert f'action="{admin}logout/"' in page
    # Adding through the admin: stored in the tenant, redirected to its change list.
    response = client.post(
        f"{admin}tenantapp/note/add/",
        {"text": f"added under {routing.name} routing", "priority": 2},
        HTTP_HOST=_host(routing, "sub_acme"),
    )
    assert response.status_code == 302, response.content
    assert response["Location"] == f"{admin}tenantapp/note/"
    acme = _tenants_by_id()["sub_acme"]
    with TenantContext.use_tenant(acme):
        assert Note.objects.filter(text=f"added under {routing.name} routing").exists()

    # The session belongs to this tenant: the other tenant's admin asks for a login.
    other = get(routing, "sub_globex", "/admin/", client)
    assert other.status_code == 302
    assert other["Location"].startswith(routing.url("sub_globex", "/admin/login/"))


@pytest.fixture
def by_path(_tenants: list[Any]) -> Iterator[Routing]:
    config = {**settings.OMNITENANT_CONFIG, "TENANT_RESOLVER": BY_PATH.resolver}
    with override_settings(
        OMNITENANT_CONFIG=config, ROOT_URLCONF="tests.integration.subfolder_urls"
    ):
        yield BY_PATH


@pytest.mark.parametrize("path", ["/t/nobody/where/", "/where/", "/t/SUB_ACME/where/"])
def test_a_path_that_names_no_tenant_is_not_found(by_path: Routing, path: str) -> None:
    assert Client().get(path, HTTP_HOST=BY_PATH.host).status_code == 404


def test_the_bare_tenant_segment_is_the_tenants_root(by_path: Routing) -> None:
    # /t/sub_acme is /t/sub_acme/ for the URLconf: its root, which this one lacks.
    response = Client().get("/t/sub_acme", HTTP_HOST=BY_PATH.host)
    assert response.status_code == 404
    assert response.content != b"Not Found: unknown host."


def test_a_view_that_fails_leaves_no_prefix_behind(by_path: Routing) -> None:
    client = Client(raise_request_exception=False)
    assert client.get("/t/sub_acme/admin/nosuchapp/x/", HTTP_HOST=BY_PATH.host).status_code in (
        302,
        404,
    )
    assert get_script_prefix() == "/"


def test_concurrent_asgi_requests_keep_their_own_prefix(by_path: Routing) -> None:
    async def both() -> list[Any]:
        return list(
            await asyncio.gather(
                *(
                    asgi_get(f"/t/{tenant}/slow/", BY_PATH.host)
                    for tenant in ("sub_acme", "sub_globex", "sub_acme", "sub_globex")
                )
            )
        )

    responses = asyncio.run(both())
    assert [response.status for response in responses] == [200] * 4
    assert [response.json() for response in responses] == [
        {"before": f"/t/{tenant}/slow/", "after": f"/t/{tenant}/slow/"}
        for tenant in ("sub_acme", "sub_globex", "sub_acme", "sub_globex")
    ]
    assert get_script_prefix() == "/"


def test_concurrent_wsgi_threads_keep_their_own_prefix(by_path: Routing) -> None:
    def where(tenant: str) -> str:
        try:
            response = Client().get(f"/t/{tenant}/where/", HTTP_HOST=BY_PATH.host)
            return str(json.loads(response.content)["reverse"])
        finally:
            connections.close_all()  # the test client leaves the thread's connection open

    tenants = ["sub_acme", "sub_globex"] * 10
    with ThreadPoolExecutor(max_workers=2) as pool:
        built = list(pool.map(where, tenants))
    assert built == [f"/t/{tenant}/where/" for tenant in tenants]


def test_the_site_own_script_name_stays_in_front(by_path: Routing) -> None:
    # A site deployed below /app (SCRIPT_NAME): the tenant segment goes after it.
    response = Client().get("/t/sub_acme/where/", HTTP_HOST=BY_PATH.host, SCRIPT_NAME="/app")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["reverse"] == "/app/t/sub_acme/where/"
    assert body["path"] == "/app/t/sub_acme/where/"
    assert body["path_info"] == "/where/"
