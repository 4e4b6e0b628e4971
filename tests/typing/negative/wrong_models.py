"""Misuse of the tenant request type, managers and domain creation: each marked line fails.

Never imported; ``tests/typing/check_negative.py`` runs mypy on it alone.
"""

from __future__ import annotations

from django_omnitenant.http import TenantHttpRequest
from django_omnitenant.utils import get_domain_model, get_tenant_model


def misuse(request: TenantHttpRequest) -> list[object]:
    tenants = get_tenant_model().objects
    return [
        request.tenant.name,  # E: union-attr
        tenants.order_by("name").primary(),  # E: attr-defined
        tenants.active().filter(plan="pro"),  # E: misc
        get_domain_model().objects.create(tenant="acme", domain="acme.example.com"),  # E: misc
    ]
