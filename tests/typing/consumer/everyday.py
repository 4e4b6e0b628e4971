"""What a user writes every day, type-checked with no cast and no ignore.

* a view reads ``request.tenant`` through :class:`django_omnitenant.http.TenantHttpRequest`;
* the tenant manager has the query set's methods after any other query set method
  (``Tenant.objects.order_by(...).active()``);
* a domain is created for a tenant of ``get_tenant_model()`` as it is;
* every resolver the app ships is a ``django_omnitenant.resolvers.base.BaseTenantResolver``.
"""

from __future__ import annotations

from typing import assert_type

from django.http import HttpResponse

from django_omnitenant.http import TenantHttpRequest
from django_omnitenant.models import BaseDomain, BaseTenant, TenantQuerySet
from django_omnitenant.resolvers import (
    ChainTenantResolver,
    CustomDomainTenantResolver,
    HeaderTenantResolver,
    PathPrefixTenantResolver,
    SubdomainTenantResolver,
)
from django_omnitenant.resolvers.base import BaseTenantResolver
from django_omnitenant.utils import get_domain_model, get_tenant_model
from tests.typing.consumer.models import Customer, CustomerDomain


def whoami(request: TenantHttpRequest) -> HttpResponse:
    """A view: ``request.tenant`` is the tenant model's instance, or ``None`` (public host)."""
    tenant = request.tenant
    assert_type(tenant, BaseTenant | None)
    return HttpResponse(tenant.name if tenant is not None else "public")


class CustomerRequest(TenantHttpRequest):
    """Narrowed once to the project's own tenant model: its fields are typed too."""

    tenant: Customer | None


def plan_of(request: CustomerRequest) -> str:
    customer = request.tenant
    return "none" if customer is None else customer.plan


def newest_active_customers() -> TenantQuerySet[Customer]:
    tenants = Customer.objects.order_by("-created_at").active()
    assert_type(tenants, TenantQuerySet[Customer])
    return tenants.of_type("schema").filter(plan="pro")


def active_tenants_of_any_project() -> list[str]:
    tenants = get_tenant_model().objects.order_by("tenant_id").active()
    assert_type(tenants, TenantQuerySet[BaseTenant])
    return [tenant.tenant_id for tenant in tenants]


def add_domain(tenant_id: str, host: str) -> BaseDomain:
    """The domain of a tenant fetched through ``get_tenant_model()``, with no cast."""
    tenant = get_tenant_model().objects.get(tenant_id=tenant_id)
    domain = get_domain_model().objects.create(tenant=tenant, domain=host)
    assert_type(domain.tenant, BaseTenant)
    return domain


def add_customer_domain(customer: Customer, host: str) -> CustomerDomain:
    return CustomerDomain.objects.create(tenant=customer, domain=host, is_primary=True)


def shipped_resolvers() -> list[type[BaseTenantResolver]]:
    return [
        CustomDomainTenantResolver,
        SubdomainTenantResolver,
        HeaderTenantResolver,
        PathPrefixTenantResolver,
        ChainTenantResolver,
    ]
