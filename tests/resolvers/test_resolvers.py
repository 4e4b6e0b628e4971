"""Resolvers over a plain dict store: no Django anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from omnitenant_context import (
    ConfigurationError,
    InvalidHost,
    PathMountingResolver,
    RequestLike,
    Tenant,
)
from omnitenant_resolvers import (
    BaseTenantResolver,
    ChainTenantResolver,
    CustomDomainTenantResolver,
    HeaderTenantResolver,
    PathPrefixTenantResolver,
    SubdomainTenantResolver,
)
from tests.support import PlainTenant, plain_tenant

ACME = plain_tenant("acme")
ACME_CORP = plain_tenant("acme_corp")


@dataclass
class DictStore:
    by_id: dict[str, PlainTenant] = field(default_factory=dict)
    by_domain: dict[str, PlainTenant] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def get_by_id(self, tenant_id: str) -> PlainTenant | None:
        self.calls.append(f"id:{tenant_id}")
        return self.by_id.get(tenant_id)

    def get_by_domain(self, domain: str) -> PlainTenant | None:
        self.calls.append(f"domain:{domain}")
        return self.by_domain.get(domain)


@dataclass
class Request:
    host: str
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)

    def get_host(self) -> str:
        return self.host


STORE = DictStore(
    by_id={"acme": ACME, "acme_corp": ACME_CORP},
    by_domain={"shop.acme.io": ACME, "xn--bcher-kva.example": ACME_CORP},
)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("shop.acme.io", ACME),
        ("SHOP.ACME.IO:8443", ACME),
        ("shop.acme.io.", ACME),
        ("bücher.example", ACME_CORP),
        ("unknown.example", None),
    ],
)
def test_custom_domain(host: str, expected: Tenant | None) -> None:
    assert CustomDomainTenantResolver(STORE).resolve(Request(host)) is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("acme.example.com", ACME),
        ("Acme.Example.com:8000", ACME),
        ("acme-corp.example.com", ACME_CORP),
        ("example.com", None),
        ("www.example.com", None),
        ("a.acme.example.com", None),
        ("acme.example.org", None),
        ("1acme.example.com", None),
        ("notacme.com", None),
        ("acmeexample.com", None),
    ],
)
def test_subdomain(host: str, expected: Tenant | None) -> None:
    resolver = SubdomainTenantResolver("example.com", STORE)
    assert resolver.resolve(Request(host)) is expected


def test_malformed_host_raises_invalid_host() -> None:
    with pytest.raises(InvalidHost):
        SubdomainTenantResolver("example.com", STORE).resolve(Request("bad host"))
    with pytest.raises(InvalidHost):
        CustomDomainTenantResolver(STORE).resolve(Request("acme.com:99999"))


def test_header_resolver_reads_only_valid_ids() -> None:
    resolver = HeaderTenantResolver("X-Tenant-ID", STORE)
    assert resolver.resolve(Request("x", headers={"X-Tenant-ID": "acme"})) is ACME
    assert resolver.resolve(Request("x", headers={"X-Tenant-ID": "ACME'--"})) is None
    assert resolver.resolve(Request("x")) is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/t/acme/invoices/", ACME),
        ("/t/acme", ACME),
        ("/t/", None),
        ("/acme/", None),
        ("/t/Robert');/", None),
    ],
)
def test_path_prefix(path: str, expected: Tenant | None) -> None:
    assert PathPrefixTenantResolver("/t/", STORE).resolve(Request("x", path)) is expected


@pytest.mark.parametrize(
    ("path", "tenant", "mount"),
    [
        ("/t/acme/invoices/", ACME, "/t/acme"),
        ("/t/acme", ACME, "/t/acme"),
        ("/t/acmeX/", ACME, None),  # a longer segment is another tenant's
        ("/t/acme_corp/", ACME, None),
        ("/invoices/", ACME, None),  # found some other way: nothing to strip
    ],
)
def test_path_prefix_mount_point(path: str, tenant: Tenant, mount: str | None) -> None:
    resolver = PathPrefixTenantResolver("/t/", STORE)
    assert isinstance(resolver, PathMountingResolver)
    assert resolver.mount_point(Request("x", path), tenant) == mount


def test_path_prefix_reads_the_path_below_the_script_name() -> None:
    @dataclass
    class DjangoLikeRequest(Request):
        path_info: str = "/"

    request = DjangoLikeRequest("x", "/app/t/acme/x/", path_info="/t/acme/x/")
    resolver = PathPrefixTenantResolver("/t/", STORE)
    assert resolver.resolve(request) is ACME
    assert resolver.mount_point(request, ACME) == "/t/acme"


def test_chain_mount_point_comes_from_its_path_resolver() -> None:
    chain = ChainTenantResolver(
        [CustomDomainTenantResolver(STORE), PathPrefixTenantResolver("/t/", STORE)]
    )
    assert chain.mount_point(Request("shop.acme.io", "/t/acme/x/"), ACME) == "/t/acme"
    assert chain.mount_point(Request("shop.acme.io", "/x/"), ACME) is None
    only_hosts = ChainTenantResolver([CustomDomainTenantResolver(STORE)])
    assert only_hosts.mount_point(Request("shop.acme.io", "/t/acme/"), ACME) is None


def test_chain_returns_the_first_tenant_found() -> None:
    chain = ChainTenantResolver(
        [HeaderTenantResolver(store=STORE), SubdomainTenantResolver("example.com", STORE)]
    )
    assert chain.resolve(Request("acme.example.com")) is ACME
    both = Request("acme.example.com", headers={"X-Tenant-ID": "acme_corp"})
    assert chain.resolve(both) is ACME_CORP
    assert chain.resolve(Request("example.com")) is None
    with pytest.raises(ConfigurationError):
        ChainTenantResolver([])


def test_custom_resolver_subclass_from_the_api_reference() -> None:
    class CustomResolver(BaseTenantResolver):
        def resolve(self, request: RequestLike) -> Tenant | None:
            return self.store.get_by_id(request.headers.get("X-Customer", ""))

    resolver = CustomResolver(STORE)
    assert resolver.resolve(Request("x", headers={"X-Customer": "acme"})) is ACME
    with pytest.raises(ConfigurationError, match="no tenant store"):
        CustomResolver().resolve(Request("x"))


def test_misconfiguration_is_reported() -> None:
    with pytest.raises(ConfigurationError, match="base_domain"):
        SubdomainTenantResolver(store=STORE).resolve(Request("acme.example.com"))
    with pytest.raises(ConfigurationError, match="start and end with '/'"):
        PathPrefixTenantResolver("t")
