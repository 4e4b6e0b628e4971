"""The sites framework per tenant: each tenant's current Site is its own.

With ``SITE_ID`` set, ``django.contrib.sites`` caches the current Site per process;
before, the first tenant served gave its Site (and its domain in e-mails) to all.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.sites.models import Site
from django.contrib.sites.shortcuts import get_current_site
from django.core import checks
from django.test import RequestFactory, override_settings

from django_omnitenant.sites import TenantSiteCache
from omnitenant_context import TenantContext
from tests.testapp.models import Domain

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("live_db")]


def current_site(tenant: Any, host: str = "ignored.example.test") -> Any:
    with TenantContext.use_tenant(tenant):
        return get_current_site(RequestFactory().get("/", HTTP_HOST=host))


def test_each_tenant_gets_its_own_site_at_its_primary_domain(
    tenant_pair: tuple[Any, Any],
) -> None:
    a, b = tenant_pair
    for _ in range(2):  # the second round is served from the per-process cache
        site_a, site_b = current_site(a), current_site(b)
        assert (site_a.domain, site_a.name) == ("pair-a.example.test", "PAIR_A")
        assert (site_b.domain, site_b.name) == ("pair-b.example.test", "PAIR_B")
    assert site_a.pk == site_b.pk == settings.SITE_ID


def test_an_alias_domain_answers_the_tenants_site(tenant_pair: tuple[Any, Any]) -> None:
    a, _ = tenant_pair
    alias = Domain.objects.create(tenant=a, domain="alias-a.example.test", is_primary=False)
    try:
        assert current_site(a, host="alias-a.example.test").domain == "pair-a.example.test"
    finally:
        alias.delete()


def test_the_site_follows_a_new_primary_domain(tenant_pair: tuple[Any, Any]) -> None:
    a, b = tenant_pair
    assert current_site(a).domain == "pair-a.example.test"  # cached now
    primary = Domain.objects.get(tenant=a, is_primary=True)
    primary.is_primary = False
    primary.save()
    moved = Domain.objects.create(tenant=a, domain="www.pair-a.example.test", is_primary=True)
    try:
        assert current_site(a).domain == "www.pair-a.example.test"
        assert current_site(b).domain == "pair-b.example.test"
    finally:
        moved.delete()
        primary.is_primary = True
        primary.save()
    assert current_site(a).domain == "pair-a.example.test"


def test_the_master_keeps_djangos_behaviour(tenant_pair: tuple[Any, Any]) -> None:
    from django.contrib.sites import models as sites_models

    a, _ = tenant_pair
    Site.objects.clear_cache()  # as pytest-django does before each test
    current_site(a)
    assert isinstance(sites_models.SITE_CACHE, TenantSiteCache)  # put back
    assert Site._meta.db_table == "django_site"
    config = {**settings.OMNITENANT_CONFIG, "TENANT_SITES": False}
    with override_settings(OMNITENANT_CONFIG=config):
        assert type(sites_models.SITE_CACHE) is dict
        warnings = [m.id for m in checks.run_checks(tags=["omnitenant"])]
        assert "omnitenant.W010" in warnings
    assert isinstance(sites_models.SITE_CACHE, TenantSiteCache)


def test_tenant_sites_without_site_id_is_refused_by_a_check() -> None:
    with override_settings(SITE_ID=None):
        errors = [m.id for m in checks.run_checks(tags=["omnitenant"])]
    assert "omnitenant.E012" in errors
