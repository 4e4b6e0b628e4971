"""Everyday use of the public API, with the types a user relies on pinned by ``assert_type``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import assert_type

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.http import HttpRequest

from django_omnitenant.patches.cache import (
    LocMemCache,
    RedisCache,
    TenantCacheMixin,
    clear_tenant_cache,
    tenant_cache_aliases,
)
from django_omnitenant.stores import get_tenant_store
from django_omnitenant.tenant_context import ContextState, TenantContext, TenantScope
from django_omnitenant.utils import (
    get_current_tenant,
    get_domain_model,
    get_tenant_backend,
    get_tenant_model,
)
from omnitenant_backends import BaseTenantBackend
from omnitenant_context import Tenant, check_identifier, is_valid_identifier
from omnitenant_resolvers import CachedTenantStore, normalize_host
from tests.typing.consumer.models import Customer, CustomerDomain
from tests.typing.consumer.resolvers import ApiKeyResolver

#: How the project's settings name the cache classes (Django imports the paths).
CACHES = {
    "default": {
        "BACKEND": "django_omnitenant.patches.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
    },
    "local": {"BACKEND": "django_omnitenant.patches.cache.LocMemCache"},
}
BACKEND_CLASSES: dict[str, type[TenantCacheMixin]] = {"default": RedisCache, "local": LocMemCache}


class TenantDummyCache(TenantCacheMixin, DummyCache):
    """Any backend class becomes tenant-aware with the mixin in front."""


def tenant_of(request: HttpRequest, resolver: ApiKeyResolver) -> Tenant | None:
    """A Django request is a ``RequestLike`` as it is."""
    tenant = resolver.resolve(request)
    assert_type(tenant, Tenant | None)
    return tenant


def in_every_scope(tenant: Tenant, captured: ContextState) -> list[str | None]:
    """Enter each context manager once; report the active tenant id in each."""
    seen: list[str | None] = []
    scope = TenantContext.use_tenant(tenant)
    assert_type(scope, TenantScope)
    with scope as entered:
        assert_type(entered, Tenant | None)
        assert_type(TenantContext.require_tenant(), Tenant)
        assert_type(get_current_tenant(), Tenant | None)
        seen.append(TenantContext.require_tenant().tenant_id)
        with TenantContext.use_master_db() as master:
            assert_type(master, Tenant | None)
            assert_type(TenantContext.is_master(), bool)
            seen.append(None if master is None else master.tenant_id)
        with TenantContext.use_schema("public"):
            state = TenantContext.get_state()
            assert_type(state, ContextState)
            assert_type(state.schema, str | None)
            seen.append(state.schema)
    with TenantContext.use_state(captured) as restored:
        assert_type(restored, Tenant | None)
        seen.append(None if restored is None else restored.tenant_id)
    return seen


def customer_names(plan: str) -> list[str]:
    """The project's own model, its manager and query set keep their types."""
    with TenantContext.use_master_db():
        customers = Customer.objects.active().of_type("schema").filter(plan=plan)
        first = customers.first()
        assert_type(first, Customer | None)
        domain = CustomerDomain.objects.primary().first()
        names = [customer.name for customer in customers]
        if domain is not None:
            assert_type(domain.domain, str)
        return names


def provision(tenant_id: str, name: str, hosts: Iterable[str]) -> Tenant:
    """Create a tenant through the configured models and its backend, as the API allows."""
    tenant_model = get_tenant_model()
    domain_model = get_domain_model()
    with TenantContext.use_master_db():
        tenant = tenant_model.objects.create(tenant_id=check_identifier(tenant_id), name=name)
        # Typing gap: get_tenant_model() is typed as the abstract BaseTenant, while
        # django-stubs types the domain's ``tenant`` key as the configured concrete
        # model, so ``tenant=tenant`` is refused [misc]; the key's column is not.
        for index, host in enumerate(hosts):
            domain_model.objects.create(
                tenant_id=tenant.pk, domain=normalize_host(host), is_primary=index == 0
            )
    backend = get_tenant_backend(tenant)
    assert_type(backend, BaseTenantBackend)
    assert_type(backend.create(run_migrations=True), None)
    assert_type(backend.migrate(), None)
    return tenant


def retire(tenant: Tenant) -> list[str]:
    """Drop a tenant's data and cache; returns the cache aliases cleared."""
    get_tenant_backend(tenant).delete(drop_data=True)
    cleared = clear_tenant_cache(tenant)
    assert_type(cleared, list[str])
    return cleared


def lookups(store: CachedTenantStore, host: str) -> tuple[Tenant | None, Tenant | None]:
    """The cached store, as the resolvers and the Celery worker use it."""
    assert_type(get_tenant_store(), CachedTenantStore)
    domain = normalize_host(host)
    assert_type(domain, str)
    by_domain = store.get_by_domain(domain)
    assert_type(by_domain, Tenant | None)
    by_id = store.get_by_id("acme") if is_valid_identifier("acme") else None
    assert_type(by_id, Tenant | None)
    assert_type(store.invalidate(), None)
    assert_type(len(store), int)
    return by_domain, by_id


def cached_greeting(cache: TenantCacheMixin, tenant: Tenant) -> object:
    """Keys written inside a tenant are the tenant's own."""
    with TenantContext.use_tenant(tenant):
        key = cache.make_key("greeting")
        assert_type(key, str)
        cache.set("greeting", f"hello {tenant.tenant_id}")
        greeting: object = cache.get("greeting")
    return greeting


def tenant_aware_caches() -> dict[str, TenantCacheMixin]:
    """Every tenant-aware cache alias of the settings, narrowed by ``isinstance``."""
    aliases = tenant_cache_aliases()
    assert_type(aliases, list[str])
    found: dict[str, TenantCacheMixin] = {}
    for alias in aliases:
        cache = caches[alias]
        if isinstance(cache, TenantCacheMixin):
            found[alias] = cache
    return found
