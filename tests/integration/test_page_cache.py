"""cache_page and {% cache %}: one tenant never gets another tenant's cached page.

Through Django's own decorator and template tag, on the real Redis, with tenants told
apart by a header (same host, same URL: the case where the URL alone cannot keep them
apart). With the tenant-aware backend each tenant has its own pages and fragments; with
Django's backend the second tenant gets the first one's, which is what the
omnitenant.W003 system check warns about.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.test import Client, override_settings
from django.urls import path
from django.views.decorators.cache import cache_page

from omnitenant_context import TenantContext
from tests.testapp.models import Tenant

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

_renders = itertools.count()

FRAGMENT = engines["django"].from_string(
    "{% load cache %}{% cache 60 sidebar %}{{ tenant }} #{{ render }}{% endcache %}"
)


def _tenant_id() -> str | None:
    tenant = TenantContext.get_tenant()
    return None if tenant is None else tenant.tenant_id


@cache_page(60)
def cached_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"page of {_tenant_id()} #{next(_renders)}")


def fragment(request: HttpRequest) -> HttpResponse:
    return HttpResponse(FRAGMENT.render({"tenant": _tenant_id(), "render": next(_renders)}))


urlpatterns = [path("cached/", cached_page), path("fragment/", fragment)]


@pytest.fixture
def tenant_rows(live_db: None) -> Iterator[None]:
    """Tenant rows only: the views touch no tenant table, the cache needs the tenant."""
    rows = [Tenant.objects.create(tenant_id=f"pc_{name}", name=name) for name in ("a", "b")]
    yield
    Tenant.objects.filter(pk__in=[row.pk for row in rows]).delete()


def _serving_with(backend: str) -> Iterator[None]:
    run = os.environ["OMNITENANT_TEST_RUN"]
    prefix = f"omnitenant-tests-{run}-pages-{backend.split('.', 1)[0]}"
    config = {
        **settings.OMNITENANT_CONFIG,
        "TENANT_RESOLVER": "django_omnitenant.resolvers.HeaderTenantResolver",
    }
    cache = {"BACKEND": backend, "LOCATION": "redis://127.0.0.1:6379/15", "KEY_PREFIX": prefix}
    try:
        with override_settings(
            OMNITENANT_CONFIG=config,
            ROOT_URLCONF=__name__,
            CACHES={**settings.CACHES, "default": cache},
        ):
            yield
    finally:
        # Never clear(): the Redis db is shared with other runs. This run's keys only.
        client = redis.Redis(host="127.0.0.1", port=6379, db=15)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()


@pytest.fixture
def tenant_aware_cache(tenant_rows: None) -> Iterator[None]:
    yield from _serving_with("omnitenant_backends.cache.RedisCache")


@pytest.fixture
def django_cache(tenant_rows: None) -> Iterator[None]:
    yield from _serving_with("django.core.cache.backends.redis.RedisCache")


def get(path_: str, tenant_id: str) -> str:
    response = Client().get(path_, HTTP_HOST="app.example.test", HTTP_X_TENANT_ID=tenant_id)
    assert response.status_code == 200
    return response.content.decode()


def test_cache_page_serves_each_tenant_its_own_page(tenant_aware_cache: None) -> None:
    first_a = get("/cached/", "pc_a")
    assert first_a.startswith("page of pc_a #")
    assert get("/cached/", "pc_a") == first_a  # cached
    first_b = get("/cached/", "pc_b")
    assert first_b.startswith("page of pc_b #")  # not pc_a's page
    assert get("/cached/", "pc_b") == first_b


def test_the_cache_tag_keeps_each_tenants_fragment(tenant_aware_cache: None) -> None:
    first_a = get("/fragment/", "pc_a")
    assert first_a.startswith("pc_a #")
    assert get("/fragment/", "pc_a") == first_a  # cached
    assert get("/fragment/", "pc_b").startswith("pc_b #")


def test_with_djangos_own_backend_the_second_tenant_gets_the_first_ones(
    django_cache: None,
) -> None:
    # Why omnitenant.W003 exists: the same decorator and tag on a plain backend.
    page_a = get("/cached/", "pc_a")
    assert get("/cached/", "pc_b") == page_a
    fragment_a = get("/fragment/", "pc_a")
    assert get("/fragment/", "pc_b") == fragment_a
