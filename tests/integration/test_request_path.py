"""What a warm request repeats, and what it does once (issue 13's request-path cost).

The middleware validates the request's host once and hands it to the resolver; the
requests of one tenant run in one context state, so nothing per tenant is rebuilt per
request (the engine's path memo is keyed by that state's identity).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from django_omnitenant.middleware import TenantMiddleware
from omnitenant_context import ContextState, TenantContext
from omnitenant_resolvers import HOST_ATTRIBUTE, CustomDomainTenantResolver
from tests.testapp.models import Domain


class _CountingRequest:
    """A request's ``get_host``, counted (an attribute of this one request object)."""

    def __init__(self, request: HttpRequest) -> None:
        self.calls = 0
        self._get_host = request.get_host
        request.get_host = self  # type: ignore[method-assign]  # this request only

    def __call__(self) -> str:
        self.calls += 1
        return self._get_host()


@pytest.mark.django_db
def test_the_middleware_validates_a_request_host_once() -> None:
    request = RequestFactory().get("/", HTTP_HOST="Nobody.Example.Test:8000")
    counter = _CountingRequest(request)
    response = TenantMiddleware(lambda request: HttpResponse("served"))(request)
    assert response.status_code == 404  # the resolver was asked, and found no tenant
    assert counter.calls == 1
    assert getattr(request, HOST_ATTRIBUTE) == "nobody.example.test"


def test_a_resolver_reads_the_host_the_middleware_left_and_asks_the_request_otherwise() -> None:
    request = RequestFactory().get("/", HTTP_HOST="Acme.Example.Test")
    counter = _CountingRequest(request)
    assert CustomDomainTenantResolver.host_of(request) == "acme.example.test"
    assert counter.calls == 1
    setattr(request, HOST_ATTRIBUTE, "left.example.test")
    assert CustomDomainTenantResolver.host_of(request) == "left.example.test"
    assert counter.calls == 1


def test_requests_of_one_tenant_run_in_one_context_state(
    tenant_factory: Callable[..., Any],
) -> None:
    acme = tenant_factory("path_acme")
    globex = tenant_factory("path_globex")
    for tenant in (acme, globex):
        host = tenant.tenant_id.replace("_", "-")
        Domain.objects.create(tenant=tenant, domain=f"{host}.example.test")
    seen: list[ContextState] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(TenantContext.get_state())
        return HttpResponse("ok")

    middleware = TenantMiddleware(view)
    factory = RequestFactory()
    for host in ("path-acme", "path-acme", "path-globex", "path-acme"):
        response = middleware(factory.get("/", HTTP_HOST=f"{host}.example.test"))
        assert response.status_code == 200
        response.close()
    first, again, other, back = seen
    assert first.tenant is not None
    assert first.tenant.tenant_id == "path_acme"
    assert other.tenant is not None
    assert other.tenant.tenant_id == "path_globex"
    assert again is first
    assert back is first
    assert other is not first
    assert TenantContext.get_state().is_empty  # nothing stays set after the requests
