"""Tenant and domain models: identifiers are checked on every save path."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from django_omnitenant.utils import get_domain_model, get_tenant_model
from omnitenant_context import IsolationType, Tenant

pytestmark = pytest.mark.postgres

HOSTILE_IDS = [
    'x"; DROP SCHEMA public CASCADE; --',
    "pg_catalog",
    "Acme",
    "acme\n",
    "",
    "a" * 64,
    "select",
]


@pytest.mark.parametrize("tenant_id", HOSTILE_IDS)
def test_objects_create_refuses_bad_tenant_ids(live_db: None, tenant_id: str) -> None:
    tenant_model = get_tenant_model()
    with pytest.raises(ValidationError):
        tenant_model.objects.create(tenant_id=tenant_id, name="x")
    assert not tenant_model.objects.filter(tenant_id=tenant_id).exists()


@pytest.mark.parametrize("schema_name", ["public", "omnitenant_template", "information_schema"])
def test_shared_schema_names_are_refused(live_db: None, schema_name: str) -> None:
    with pytest.raises(ValidationError, match="reserved for shared use"):
        get_tenant_model().objects.create(tenant_id="fine", name="x", schema_name=schema_name)
    assert not get_tenant_model().objects.filter(tenant_id="fine").exists()


def test_bulk_create_and_update_cannot_sneak_bad_identifiers_in(live_db: None) -> None:
    tenant_model = get_tenant_model()
    with pytest.raises(ValidationError):
        tenant_model.objects.bulk_create(
            [tenant_model(tenant_id="good", name="x"), tenant_model(tenant_id="Bad", name="y")]
        )
    assert not tenant_model.objects.filter(tenant_id__in=["good", "Bad"]).exists()
    tenant = tenant_model.objects.create(tenant_id="renamed", name="x")
    try:
        for field in ("tenant_id", "schema_name", "isolation_type"):
            with pytest.raises(ValidationError, match="cannot be changed by update"):
                tenant_model.objects.filter(pk=tenant.pk).update(**{field: "other"})
        assert tenant_model.objects.filter(pk=tenant.pk).update(name="New name") == 1
    finally:
        tenant.delete()


def test_defaults_and_protocol_conformance(live_db: None) -> None:
    tenant = get_tenant_model().objects.create(tenant_id="conform", name="Conform")
    try:
        assert tenant.schema_name == "conform"
        assert tenant.isolation_type == IsolationType.SCHEMA
        assert tenant.database_alias == "tenant_conform"
        assert tenant.cache_namespace == "conform"
        assert tenant.is_active
        assert isinstance(tenant, Tenant)
        assert str(tenant) == "Conform (conform)"
    finally:
        tenant.delete()


@pytest.fixture
def tenant(live_db: None) -> Any:
    tenant = get_tenant_model().objects.create(tenant_id="domains", name="D")
    yield tenant
    tenant.delete()


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Shop.Example.COM", "shop.example.com"),
        ("shop.example.com:8443", "shop.example.com"),
        ("shop.example.com.", "shop.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_domains_are_stored_normalised(tenant: Any, given: str, stored: str) -> None:
    domain = get_domain_model().objects.create(tenant=tenant, domain=given)
    assert domain.domain == stored
    assert get_domain_model().objects.get(pk=domain.pk).domain == stored


@pytest.mark.parametrize("bad", ["", "a..b", "exa mple.com", "<script>", "x" * 300, "a.com:0"])
def test_malformed_domains_are_refused(tenant: Any, bad: str) -> None:
    with pytest.raises(ValidationError):
        get_domain_model().objects.create(tenant=tenant, domain=bad)
    assert not get_domain_model().objects.filter(tenant=tenant).exists()


def test_one_primary_domain_per_tenant_and_unique_hosts(tenant: Any) -> None:
    domain_model = get_domain_model()
    domain_model.objects.create(tenant=tenant, domain="one.example.test", is_primary=True)
    domain_model.objects.create(tenant=tenant, domain="two.example.test")
    with transaction.atomic(), pytest.raises(IntegrityError):
        domain_model.objects.create(tenant=tenant, domain="three.example.test", is_primary=True)
    with transaction.atomic(), pytest.raises(IntegrityError):
        domain_model.objects.create(tenant=tenant, domain="ONE.example.test")
    primary = domain_model.objects.primary().filter(tenant=tenant)
    assert [d.domain for d in primary] == ["one.example.test"]
    assert sorted(d.domain for d in tenant.domains.all()) == [
        "one.example.test",
        "two.example.test",
    ]


def test_the_api_reference_manager_name_is_the_tenant_manager() -> None:
    from django_omnitenant.models import TenantManager, TenantQuerySetManager

    assert TenantQuerySetManager is TenantManager
    assert isinstance(get_tenant_model().objects, TenantQuerySetManager)
