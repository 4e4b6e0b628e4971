"""Code that runs after the middleware returned still runs in the request's tenant.

``request_finished`` receivers and the response's resource closers run from
``response.close()``, which the server calls once the body is sent: under WSGI, under
ASGI and after a streaming body.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished
from django.db import connection
from django.test import Client, RequestFactory

from omnitenant_context import EMPTY_STATE, TenantContext
from tests.integration.asgi import asgi_get
from tests.tenantapp.models import Note

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def finished_log() -> Iterator[list[tuple[str | None, list[str]]]]:
    """What each request_finished receiver call saw: the tenant and the notes it read."""
    seen: list[tuple[str | None, list[str]]] = []

    def receiver(**_: Any) -> None:
        tenant = TenantContext.get_tenant()
        texts = sorted(Note.objects.values_list("text", flat=True)) if tenant else []
        seen.append((None if tenant is None else tenant.tenant_id, texts))
        # Django's own receiver (close_old_connections) ran first: under ASGI this is the
        # request's own thread, so close what the query opened, as a receiver should.
        connection.close()

    request_finished.connect(receiver, dispatch_uid="test-after-response")
    try:
        yield seen
    finally:
        request_finished.disconnect(dispatch_uid="test-after-response")


def test_request_finished_receivers_run_in_the_tenant_under_wsgi(
    tenant_pair: tuple[Any, Any], finished_log: list[tuple[str | None, list[str]]]
) -> None:
    response = Client().get("/whoami/", HTTP_HOST="pair-b.example.test")
    assert response.status_code == 200
    assert finished_log == [("pair_b", ["note of pair_b"])]
    assert TenantContext.get_state() is EMPTY_STATE


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return lambda body: None


def test_a_tenants_response_is_freed_when_the_server_lets_go_of_it(
    tenant_pair: tuple[Any, Any], finished_log: list[tuple[str | None, list[str]]]
) -> None:
    # Freed by reference counting, not left in a cycle for the garbage collector: a big
    # body would otherwise stay in memory until the next collection.
    environ = RequestFactory().get("/whoami/", HTTP_HOST="pair-a.example.test").environ
    handler = WSGIHandler()
    gc.disable()
    try:
        response = handler(environ, _start_response)
        assert response.status_code == 200
        assert b"".join(response)
        response.close()  # what a WSGI server does once the body is sent
        freed = weakref.ref(response)
        del response
        assert freed() is None
    finally:
        gc.enable()
    assert finished_log == [("pair_a", ["note of pair_a"])]


def test_resource_closers_run_in_the_tenant(tenant_pair: tuple[Any, Any]) -> None:
    response = Client().get("/closer/", HTTP_HOST="pair-a.example.test")
    assert response.status_code == 200
    # The view's resource closer noted, on the request, the tenant it ran in.
    assert response.wsgi_request.closer_saw == "pair_a"  # type: ignore[attr-defined]  # set by the view


def test_after_a_streaming_body_too(
    tenant_pair: tuple[Any, Any], finished_log: list[tuple[str | None, list[str]]]
) -> None:
    response = Client().get("/stream/", HTTP_HOST="pair-a.example.test")
    assert b"".join(response.streaming_content) == b"pair_a;pair_a;pair_a;"  # type: ignore[attr-defined]  # streaming responses have it
    assert finished_log == [("pair_a", ["note of pair_a"])]
    assert TenantContext.get_state() is EMPTY_STATE


def test_request_finished_receivers_run_in_the_tenant_under_asgi(
    tenant_pair: tuple[Any, Any], finished_log: list[tuple[str | None, list[str]]]
) -> None:
    response = asyncio.run(asgi_get("/whoami/", "pair-a.example.test"))
    assert response.status == 200
    assert finished_log == [("pair_a", ["note of pair_a"])]


def test_the_public_host_finishes_without_a_tenant(
    tenant_pair: tuple[Any, Any], finished_log: list[tuple[str | None, list[str]]]
) -> None:
    Client().get("/whoami/", HTTP_HOST="example.test")
    assert finished_log == [(None, [])]
