"""Runs the consumer project of ``tests/typing/consumer``; mypy --strict checks it too.

No database: the consumer's functions that need one are only type-checked. The consumer's
models belong to an app that ``tests.settings`` does not install, so they are imported in
an empty isolated app registry and never join the real one: there the domain model's
foreign key to ``testapp.Tenant`` stays unresolved, so the test project's tenant keeps its
own ``domains`` relation whichever tests ran before or after.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType

import pytest
from django.apps import apps as django_apps
from django.core.cache.backends.locmem import LocMemCache as DjangoLocMemCache
from django.test import RequestFactory
from django.test.utils import isolate_apps
from django.utils.module_loading import import_string

import omnitenant_celery
from django_omnitenant.models import DomainQuerySet, TenantQuerySet
from django_omnitenant.patches.cache import LocMemCache
from django_omnitenant.resolvers import HeaderTenantResolver
from django_omnitenant.resolvers.base import BaseTenantResolver
from django_omnitenant.signals import tenant_created
from omnitenant_context import (
    ContextListener,
    ContextState,
    IsolationType,
    RequestLike,
    Tenant,
    TenantBackend,
    TenantContext,
    TenantResolver,
    TenantStore,
)
from tests.support import PlainTenant, plain_tenant
from tests.testapp.models import Domain as ProjectDomain
from tests.testapp.models import Tenant as ProjectTenant

MODULES = ("models", "resolvers", "signals", "tasks", "usage", "conformance", "everyday")
ACME = plain_tenant("acme")


@dataclass
class DictStore:
    tenants: dict[str, PlainTenant] = field(default_factory=dict)

    def get_by_id(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def get_by_domain(self, domain: str) -> Tenant | None:
        return None


@pytest.fixture(scope="module")
def consumer() -> dict[str, ModuleType]:
    # No installed apps: naming the consumer's package here would make Django import its
    # models while building the isolated registry, that is still inside the project's
    # registry, where they would take over testapp.Tenant.domains.
    with isolate_apps():
        return {name: importlib.import_module(f"tests.typing.consumer.{name}") for name in MODULES}


@pytest.fixture
def store() -> DictStore:
    return DictStore({"acme": ACME})


def test_the_models_are_tenants_and_domains(consumer: dict[str, ModuleType]) -> None:
    models = consumer["models"]
    customer = models.Customer(tenant_id="acme", name="ACME", plan="pro")
    customer.prepare_identifiers()
    assert consumer["conformance"].customer_is_a_tenant(customer) is customer
    assert customer.is_paying
    assert (customer.schema_name, customer.database_alias) == ("acme", "tenant_acme")
    assert isinstance(customer, Tenant)
    assert models.Customer._meta.app_label == "consumer"
    assert models.CustomerDomain._meta.get_field("is_primary").default is False


def test_the_models_stay_out_of_the_projects_registry(consumer: dict[str, ModuleType]) -> None:
    models = consumer["models"]
    assert models.Customer._meta.apps is not django_apps
    assert not {models.Customer, models.CustomerDomain} & set(django_apps.get_models())
    assert ProjectTenant.domains.rel.related_model is ProjectDomain
    assert [rel.related_model for rel in ProjectTenant._meta.related_objects] == [ProjectDomain]


def test_the_resolver_reads_the_api_key_header(
    consumer: dict[str, ModuleType], store: DictStore
) -> None:
    resolver = consumer["resolvers"].ApiKeyResolver(store)
    factory = RequestFactory()
    usage = consumer["usage"]
    assert usage.tenant_of(factory.get("/", HTTP_X_CUSTOMER=" ACME "), resolver) is ACME
    assert usage.tenant_of(factory.get("/", HTTP_X_CUSTOMER="globex"), resolver) is None
    assert usage.tenant_of(factory.get("/", HTTP_X_CUSTOMER="select"), resolver) is None
    assert usage.tenant_of(factory.get("/"), resolver) is None


@pytest.fixture
def connected(consumer: dict[str, ModuleType]) -> Iterator[ModuleType]:
    signals = consumer["signals"]
    signals.seeded.clear()
    signals.connect()
    yield signals
    assert signals.disconnect()


def test_the_receiver_runs_in_the_new_tenant(connected: ModuleType) -> None:
    tenant_created.send(sender=PlainTenant, tenant=ACME)
    assert connected.seeded == ["acme"]
    assert TenantContext.get_tenant() is None


def test_the_task_is_tenant_aware(consumer: dict[str, ModuleType]) -> None:
    task = consumer["tasks"].count_notes
    assert isinstance(task, omnitenant_celery.TenantAwareTask)
    assert task.name == "tests.typing.consumer.tasks.count_notes"


def test_every_context_manager(consumer: dict[str, ModuleType]) -> None:
    globex = plain_tenant("globex")
    seen = consumer["usage"].in_every_scope(ACME, ContextState(tenant=globex))
    assert seen == ["acme", None, "public", "globex"]
    assert TenantContext.get_state().is_empty


def test_cache_keys_are_the_tenants_own(consumer: dict[str, ModuleType]) -> None:
    usage = consumer["usage"]
    cache = usage.TenantDummyCache("consumer", {})
    assert cache.make_key("k") == DjangoLocMemCache("plain", {}).make_key("k")
    local = LocMemCache("consumer-typing", {})
    assert usage.cached_greeting(local, ACME) == "hello acme"
    assert usage.cached_greeting(local, plain_tenant("globex")) == "hello globex"
    assert local.get("greeting") is None  # nothing leaked into the global keys
    for alias, settings in usage.CACHES.items():
        assert import_string(settings["BACKEND"]) is usage.BACKEND_CLASSES[alias]


def test_the_library_conforms_at_runtime_too(
    consumer: dict[str, ModuleType], store: DictStore
) -> None:
    conformance = consumer["conformance"]
    checks: list[tuple[list[object], type]] = [
        (list(conformance.stores()), TenantStore),
        (list(conformance.backends(plain_tenant("acme", IsolationType.DATABASE))), TenantBackend),
        (list(conformance.resolvers(store)), TenantResolver),
        ([conformance.request_like(RequestFactory().get("/"))], RequestLike),
        ([conformance.listener()], ContextListener),
    ]
    for values, protocol in checks:
        assert values
        for value in values:
            assert isinstance(value, protocol), (value, protocol)
    chain = conformance.resolvers(store)[-1]
    assert chain.resolve(RequestFactory().get("/", HTTP_X_TENANT_ID="acme")) is ACME


def test_every_shipped_resolver_is_the_references_base_class(
    consumer: dict[str, ModuleType], store: DictStore
) -> None:
    classes = consumer["everyday"].shipped_resolvers()
    assert len(classes) == 5
    for cls in classes:
        assert issubclass(cls, BaseTenantResolver), cls
    # The Django store stays the default; a store passed explicitly wins.
    resolver = HeaderTenantResolver(store=store)
    assert resolver.resolve(RequestFactory().get("/", HTTP_X_TENANT_ID="acme")) is ACME


def test_the_managers_have_their_query_sets_methods_after_any_other(
    consumer: dict[str, ModuleType],
) -> None:
    customers = consumer["models"].Customer.objects.order_by("name").active().of_type("schema")
    assert isinstance(customers, TenantQuerySet)
    where = str(customers.query.where)
    assert "status" in where
    assert "isolation_type" in where
    domains = consumer["models"].CustomerDomain.objects.order_by("domain").primary()
    assert isinstance(domains, DomainQuerySet)
    assert "is_primary" in str(domains.query.where)
