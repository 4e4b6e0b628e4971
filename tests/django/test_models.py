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
        ("straße.example.com", "xn--strae-oqa.example.com"),
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


def test_every_domain_write_path_normalises(tenant: Any) -> None:
    domain_model = get_domain_model()
    created = domain_model.objects.bulk_create(
        [
            domain_model(tenant=tenant, domain="GLOBEX.Example.COM."),
            domain_model(tenant=tenant, domain="straße.example.com:443"),
        ]
    )
    assert [d.domain for d in created] == ["globex.example.com", "xn--strae-oqa.example.com"]
    assert sorted(domain_model.objects.filter(tenant=tenant).values_list("domain", flat=True)) == [
        "globex.example.com",
        "xn--strae-oqa.example.com",
    ]
    globex = domain_model.objects.get(domain="globex.example.com")
    globex.domain = "Initech.Example.COM."
    domain_model.objects.bulk_update([globex], ["domain"])
    domain_model.objects.filter(pk=globex.pk).update(domain="Hooli.Example.COM:8000")
    assert domain_model.objects.get(pk=globex.pk).domain == "hooli.example.com"
    with pytest.raises(ValidationError):
        domain_model.objects.bulk_create([domain_model(tenant=tenant, domain="exa mple.com")])


def test_a_bulk_created_domain_is_found_by_a_cached_negative_lookup(tenant: Any) -> None:
    from django_omnitenant.stores import get_tenant_store

    store = get_tenant_store()
    assert store.get_by_domain("bulk.example.test") is None  # cached as unknown
    get_domain_model().objects.bulk_create(
        [get_domain_model()(tenant=tenant, domain="BULK.example.test")]
    )
    found = store.get_by_domain("bulk.example.test")
    assert found is not None
    assert found.tenant_id == tenant.tenant_id


def test_schema_names_are_unique_in_the_database(live_db: None) -> None:
    tenant_model = get_tenant_model()
    first = tenant_model.objects.create(tenant_id="owner", name="x")
    try:
        with transaction.atomic(), pytest.raises(IntegrityError):
            tenant_model.objects.create(tenant_id="intruder", name="y", schema_name="owner")
        with transaction.atomic(), pytest.raises(IntegrityError):
            tenant_model.objects.bulk_create(
                [tenant_model(tenant_id="intruder", name="y", schema_name="owner")]
            )
        assert not tenant_model.objects.filter(tenant_id="intruder").exists()
    finally:
        first.delete()


def test_database_names_are_unique_in_the_database(live_db: None) -> None:
    tenant_model = get_tenant_model()
    database = IsolationType.DATABASE.value
    first = tenant_model.objects.create(
        tenant_id="dbowner", name="x", isolation_type=database, database_config={"NAME": "shared"}
    )
    # The default name of a PostgreSQL database tenant is its tenant id.
    second = tenant_model.objects.create(tenant_id="dbdefault", name="x", isolation_type=database)
    try:
        for config in ({"NAME": "shared", "HOST": "elsewhere"}, {"NAME": "dbdefault"}):
            with transaction.atomic(), pytest.raises(IntegrityError):
                tenant_model.objects.create(
                    tenant_id="dbintruder",
                    name="y",
                    isolation_type=database,
                    database_config=config,
                )
        assert not tenant_model.objects.filter(tenant_id="dbintruder").exists()
    finally:
        first.delete()
        second.delete()


def test_storage_names_cannot_change_on_any_write_path(live_db: None) -> None:
    tenant_model = get_tenant_model()
    tenant = tenant_model.objects.create(
        tenant_id="fixed",
        name="x",
        isolation_type=IsolationType.DATABASE.value,
        database_config={"NAME": "fixed_db", "HOST": "db1"},
    )
    try:
        for field, value in (
            ("schema_name", "victim"),
            ("tenant_id", "other"),
            ("isolation_type", IsolationType.SCHEMA.value),
            ("database_config", {"NAME": "victim_db", "HOST": "db1"}),
        ):
            loaded = tenant_model.objects.get(pk=tenant.pk)
            setattr(loaded, field, value)
            with pytest.raises(ValidationError, match="cannot be changed by save"):
                loaded.save()
            with pytest.raises(ValidationError, match="cannot be changed by bulk_update"):
                tenant_model.objects.bulk_update([loaded], [field])
            # Made by hand, never loaded: save() asks the database.
            by_hand = tenant_model(
                tenant_id="fixed",
                name="x",
                isolation_type=IsolationType.DATABASE.value,
                database_config={"NAME": "fixed_db", "HOST": "db1"},
            )
            by_hand.pk = tenant.pk
            by_hand._state.adding = False
            setattr(by_hand, field, value)
            with pytest.raises(ValidationError, match="cannot be changed by save"):
                by_hand.save()
        with pytest.raises(ValidationError, match="cannot be changed by update"):
            tenant_model.objects.filter(pk=tenant.pk).update(
                database_config={"NAME": "victim_db", "HOST": "db1"}
            )
        stored = tenant_model.objects.get(pk=tenant.pk)
        assert (stored.tenant_id, stored.schema_name, stored.database_config["NAME"]) == (
            "fixed",
            "fixed",
            "fixed_db",
        )
        # Everything else still changes: the host of the database may move.
        stored.name = "Renamed"
        stored.database_config = {"NAME": "fixed_db", "HOST": "db2"}
        stored.save()
        tenant_model.objects.filter(pk=tenant.pk).update(
            database_config={"NAME": "fixed_db", "HOST": "db3"}
        )
        stored.database_config["HOST"] = "db4"
        tenant_model.objects.bulk_update([stored], ["database_config", "name"])
        assert tenant_model.objects.get(pk=tenant.pk).database_config["HOST"] == "db4"
    finally:
        tenant.delete()
