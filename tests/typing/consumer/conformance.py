"""Static conformance: the library's own implementations satisfy its Protocols.

Each function builds the real classes and assigns them to the Protocol type: mypy fails
on the assignment if a class drifts from its Protocol. The functions return what they
built so the tests can check the same conformance at runtime.
"""

from __future__ import annotations

from django.http import HttpRequest

from django_omnitenant.patches.celery import DjangoTenantStore
from django_omnitenant.resolvers import (
    ChainTenantResolver,
    CustomDomainTenantResolver,
    HeaderTenantResolver,
    PathPrefixTenantResolver,
    SubdomainTenantResolver,
)
from django_omnitenant.signals import ActivationSignalListener
from django_omnitenant.stores import ModelTenantStore
from omnitenant_backends import CacheTenantBackend, DatabaseTenantBackend, SchemaTenantBackend
from omnitenant_context import (
    ContextListener,
    RequestLike,
    Tenant,
    TenantBackend,
    TenantResolver,
    TenantStore,
)
from omnitenant_resolvers import CachedTenantStore
from tests.typing.consumer.models import Customer
from tests.typing.consumer.resolvers import ApiKeyResolver


def customer_is_a_tenant(customer: Customer) -> Tenant:
    tenant: Tenant = customer
    return tenant


def stores() -> list[TenantStore]:
    model_store: TenantStore = ModelTenantStore()
    cached: TenantStore = CachedTenantStore(ModelTenantStore(), ttl=60.0)
    celery_store: TenantStore = DjangoTenantStore()
    return [model_store, cached, celery_store]


def backends(tenant: Tenant) -> list[TenantBackend]:
    schema: TenantBackend = SchemaTenantBackend(tenant)
    database: TenantBackend = DatabaseTenantBackend(tenant)
    cache: TenantBackend = CacheTenantBackend(tenant, aliases=["default"])
    return [schema, database, cache]


def resolvers(store: TenantStore) -> list[TenantResolver]:
    own: TenantResolver = ApiKeyResolver(store)
    by_domain: TenantResolver = CustomDomainTenantResolver(store)
    by_subdomain: TenantResolver = SubdomainTenantResolver("example.com", store)
    by_header: TenantResolver = HeaderTenantResolver("X-Tenant-ID", store)
    by_path: TenantResolver = PathPrefixTenantResolver("/t/", store)
    # A chain takes any TenantResolver, not only the library's subclasses.
    chain: TenantResolver = ChainTenantResolver([own, by_header], store)
    return [own, by_domain, by_subdomain, by_header, by_path, chain]


def request_like(request: HttpRequest) -> RequestLike:
    like: RequestLike = request
    return like


def listener() -> ContextListener:
    activation: ContextListener = ActivationSignalListener()
    return activation
