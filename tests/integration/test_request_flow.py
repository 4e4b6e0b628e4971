"""The request flow end to end: hosts → tenant → view, through WSGI and ASGI clients."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from django_omnitenant.stores import get_tenant_store
from django_omnitenant.utils import get_domain_model, get_tenant_backend
from omnitenant_context import EMPTY_STATE, TenantContext
from tests.integration.asgi import asgi_get
from tests.tenantapp.models import Note
from tests.testapp.models import Domain, Tenant

pytestmark = pytest.mark.postgres

TENANT_COUNT = 20


@pytest.fixture(scope="module")
def tenants(django_db_setup: None, django_db_blocker: Any) -> Iterator[list[Any]]:
    """Twenty schema tenants, each with one domain and one note naming it."""
    tenant_model, domain_model = Tenant, Domain
    created: list[Any] = []
    with django_db_blocker.unblock():
        try:
            for index in range(TENANT_COUNT):
                tenant = tenant_model.objects.create(tenant_id=f"web_{index}", name=f"Web {index}")
                created.append(tenant)
                get_tenant_backend(tenant).create(run_migrations=True)
                domain_model.objects.create(
                    tenant=tenant, domain=f"web-{index}.example.test", is_primary=True
                )
                with TenantContext.use_tenant(tenant):
                    Note.objects.create(text=f"note of web_{index}")
            yield created
        finally:
            for tenant in created:
                get_tenant_backend(tenant).delete(drop_data=True)
                tenant.delete()


def whoami(client: Client, host: str) -> tuple[int, Any]:
    response = client.get("/whoami/", HTTP_HOST=host)
    body = json.loads(response.content) if response.status_code == 200 else None
    return response.status_code, body


@pytest.mark.parametrize(
    "host",
    ["web-3.example.test", "WEB-3.Example.TEST", "web-3.example.test:8000", "web-3.example.test."],
)
def test_every_spelling_of_a_host_finds_its_tenant(tenants: list[Any], host: str) -> None:
    status, body = whoami(Client(), host)
    assert status == 200
    assert body == {"tenant": "web_3", "request_tenant": "web_3"}


def test_public_host_runs_without_a_tenant(tenants: list[Any]) -> None:
    assert whoami(Client(), "example.test") == (200, {"tenant": None, "request_tenant": None})


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("nobody.example.test", 404),
        ("bad host", 400),
        ("web-3.example.test:99999", 400),
        ("a..b", 400),
        ("web-3.example.test/x", 400),
    ],
)
def test_unknown_and_malformed_hosts(tenants: list[Any], host: str, status: int) -> None:
    assert whoami(Client(), host)[0] == status


def test_each_tenant_sees_only_its_rows(tenants: list[Any]) -> None:
    client = Client()
    for index in range(TENANT_COUNT):
        response = client.get("/notes/", HTTP_HOST=f"web-{index}.example.test")
        assert response.json() == {"notes": [f"note of web_{index}"]}


def test_no_context_is_left_behind_after_a_view_raises(tenants: list[Any]) -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/boom/", HTTP_HOST="web-1.example.test")
    assert response.status_code == 500
    assert TenantContext.get_state() is EMPTY_STATE
    with pytest.raises(RuntimeError, match="the view failed"):
        Client().get("/boom/", HTTP_HOST="web-1.example.test")
    assert TenantContext.get_state() is EMPTY_STATE


def test_streaming_response_keeps_the_tenant(tenants: list[Any]) -> None:
    response = Client().get("/stream/", HTTP_HOST="web-5.example.test")
    assert b"".join(response.streaming_content) == b"web_5;web_5;web_5;"  # type: ignore[attr-defined]  # streaming responses have it
    assert TenantContext.get_state() is EMPTY_STATE


def test_200_interleaved_requests_from_threads(tenants: list[Any]) -> None:
    results: list[tuple[int, Any]] = []
    lock = threading.Lock()
    start = threading.Barrier(10)

    def worker(offset: int) -> None:
        client = Client()
        start.wait(timeout=30)
        try:
            for step in range(20):
                index = (offset * 7 + step) % TENANT_COUNT
                response = client.get("/notes/", HTTP_HOST=f"web-{index}.example.test")
                with lock:
                    results.append((index, response.json()))
        finally:
            from django.db import connections

            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 200
    for index, body in results:
        assert body == {"notes": [f"note of web_{index}"]}


def test_200_interleaved_requests_from_asyncio_tasks(tenants: list[Any]) -> None:
    async def one(index: int, slots: asyncio.Semaphore) -> tuple[int, Any, Any]:
        # Django gives each ASGI request its own thread and database connection: keep
        # twenty in flight, below the server's connection limit, still interleaved.
        async with slots:
            notes = await asgi_get("/notes/", f"web-{index}.example.test")
            who = await asgi_get("/whoami/", f"web-{index}.example.test")
        return index, notes.json(), who.json()

    async def main() -> list[tuple[int, Any, Any]]:
        slots = asyncio.Semaphore(20)
        return list(
            await asyncio.gather(*(one((i * 13) % TENANT_COUNT, slots) for i in range(100)))
        )

    results = asyncio.run(main())
    assert len(results) == 100  # 100 tasks, two requests each: 200 requests
    for index, notes, who in results:
        assert notes == {"notes": [f"note of web_{index}"]}
        assert who == {"tenant": f"web_{index}", "request_tenant": f"web_{index}"}
    assert TenantContext.get_state() is EMPTY_STATE


def test_async_unknown_and_public_hosts(tenants: list[Any]) -> None:
    async def main() -> list[int]:
        hosts = ["nobody.example.test", "bad host", "example.test", "web-2.example.test"]
        return [(await asgi_get("/whoami/", host)).status for host in hosts]

    assert asyncio.run(main()) == [404, 400, 200, 200]


def test_warm_requests_run_no_tenant_lookup_query(
    tenants: list[Any], django_assert_num_queries: Any
) -> None:
    client = Client()
    client.get("/whoami/", HTTP_HOST="web-7.example.test")  # warms the cache
    with django_assert_num_queries(0):
        for _ in range(5):
            assert whoami(client, "web-7.example.test")[0] == 200
    store = get_tenant_store()
    assert store.hits > 0


def test_a_domain_saved_elsewhere_is_seen_by_the_next_request(tenants: list[Any]) -> None:
    client = Client()
    domain_model = get_domain_model()
    assert whoami(client, "moved.example.test")[0] == 404  # cached as unknown
    # A direct query-set update: no model signal, still seen.
    domain_model.objects.filter(domain="web-9.example.test").update(domain="moved.example.test")
    try:
        assert whoami(client, "moved.example.test")[1]["tenant"] == "web_9"
        assert whoami(client, "web-9.example.test")[0] == 404
    finally:
        domain_model.objects.filter(domain="moved.example.test").update(domain="web-9.example.test")
    assert whoami(client, "web-9.example.test")[1]["tenant"] == "web_9"
