"""Static conformance of the Protocols, checked by mypy --strict and run by pytest.

A plain dataclass is a ``Tenant``; a small dummy class satisfies each other Protocol.
The ``assert_type`` calls pin the public signatures: a change in them fails the type check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import assert_type

from omnitenant_context import (
    ContextListener,
    ContextState,
    IsolationType,
    RequestLike,
    Tenant,
    TenantBackend,
    TenantContext,
    TenantResolver,
    TenantScope,
    TenantStore,
)
from tests.support import PlainTenant


@dataclass
class DictStore:
    by_id: dict[str, PlainTenant] = field(default_factory=dict)
    by_domain: dict[str, PlainTenant] = field(default_factory=dict)

    def get_by_id(self, tenant_id: str) -> PlainTenant | None:
        return self.by_id.get(tenant_id)

    def get_by_domain(self, domain: str) -> PlainTenant | None:
        return self.by_domain.get(domain)


@dataclass
class FakeRequest:
    host: str
    headers: Mapping[str, str] = field(default_factory=dict)
    path: str = "/"

    def get_host(self) -> str:
        return self.host


@dataclass
class HostResolver:
    store: DictStore

    def resolve(self, request: RequestLike) -> Tenant | None:
        return self.store.get_by_domain(request.get_host())


@dataclass
class RecordingBackend:
    tenant: Tenant
    calls: list[str] = field(default_factory=list)

    def create(self, *, run_migrations: bool = True) -> None:
        self.calls.append(f"create:{run_migrations}")

    def activate(self) -> None:
        self.calls.append("activate")

    def deactivate(self) -> None:
        self.calls.append("deactivate")

    def migrate(self) -> None:
        self.calls.append("migrate")

    def delete(self, *, drop_data: bool = False) -> None:
        self.calls.append(f"delete:{drop_data}")


class PrintingListener:
    def context_changed(self, previous: ContextState, current: ContextState) -> None:
        del previous, current


ACME = PlainTenant("acme", IsolationType.SCHEMA, "acme", "tenant_acme", "acme")


def test_each_dummy_conforms_statically_and_at_runtime() -> None:
    tenant: Tenant = ACME
    store: TenantStore = DictStore(by_domain={"acme.example.com": ACME})
    request: RequestLike = FakeRequest("acme.example.com")
    resolver: TenantResolver = HostResolver(DictStore(by_domain={"acme.example.com": ACME}))
    backend: TenantBackend = RecordingBackend(ACME)
    listener: ContextListener = PrintingListener()

    for value, protocol in [
        (tenant, Tenant),
        (store, TenantStore),
        (request, RequestLike),
        (resolver, TenantResolver),
        (backend, TenantBackend),
        (listener, ContextListener),
    ]:
        assert isinstance(value, protocol)
    assert resolver.resolve(request) is ACME
    assert not isinstance(object(), Tenant)


def test_public_signatures() -> None:
    assert_type(TenantContext.get_tenant(), Tenant | None)
    assert_type(TenantContext.get_state(), ContextState)
    assert_type(TenantContext.use_tenant(ACME), TenantScope)
    assert_type(TenantContext.use_master_db(), TenantScope)
    assert_type(TenantContext.use_schema("public"), TenantScope)
    with TenantContext.use_tenant(ACME) as entered:
        assert_type(entered, Tenant | None)
        assert_type(TenantContext.require_tenant(), Tenant)
