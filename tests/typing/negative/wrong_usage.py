"""Deliberate misuse of the public API: every marked line must be a mypy error.

Never imported. ``mypy tests`` skips this folder (``exclude`` in pyproject.toml);
``tests/typing/check_negative.py`` runs mypy on this file alone and fails unless mypy
reports exactly the marked lines, each with the error code after ``# E:``.
"""

from __future__ import annotations

from django.http import HttpRequest

from django_omnitenant.patches.cache import clear_tenant_cache
from django_omnitenant.resolvers import ChainTenantResolver
from django_omnitenant.resolvers.base import BaseTenantResolver
from django_omnitenant.utils import get_tenant_backend
from omnitenant_context import (
    ContextState,
    RequestLike,
    Tenant,
    TenantContext,
    TenantResolver,
    TenantStore,
)
from omnitenant_resolvers import CachedTenantStore, normalize_host
from tests.typing.consumer.tasks import count_notes


class NarrowResolver(BaseTenantResolver):
    # Narrowing the parameter breaks the Protocol: resolvers take any RequestLike.
    def resolve(self, request: HttpRequest) -> Tenant | None:  # E: override
        return self.store.get_by_domain(request.get_host())


class HalfStore:
    def get_by_id(self, tenant_id: str) -> Tenant | None:
        return None


def misuse(
    tenant: Tenant, request: RequestLike, store: TenantStore, resolver: TenantResolver
) -> list[object]:
    resolved: Tenant = resolver.resolve(request)  # E: assignment
    get_tenant_backend(tenant).create(run_migrations="yes")  # E: arg-type
    partial: TenantStore = HalfStore()  # E: assignment
    with TenantContext.use_tenant(tenant) as entered:
        name = entered.tenant_id  # E: union-attr
    current = TenantContext.get_tenant().tenant_id  # E: union-attr
    return [
        resolved,
        partial,
        name,
        current,
        TenantContext.use_tenant("acme"),  # E: arg-type
        TenantContext.use_tenant(None),  # E: arg-type
        TenantContext.use_state(None),  # E: arg-type
        TenantContext.use_schema(),  # E: call-arg
        ContextState(tenant="acme"),  # E: arg-type
        get_tenant_backend(tenant).create(),  # E: func-returns-value
        get_tenant_backend("acme"),  # E: arg-type
        normalize_host(42),  # E: arg-type
        clear_tenant_cache("acme"),  # E: arg-type
        CachedTenantStore(store, ttl="5 minutes"),  # E: arg-type
        ChainTenantResolver([store]),  # E: list-item
        count_notes.apply_async((1,), tenant="acme"),  # E: arg-type
    ]


def delete_positionally(tenant: Tenant) -> None:
    get_tenant_backend(tenant).delete(True)  # E: call-arg
