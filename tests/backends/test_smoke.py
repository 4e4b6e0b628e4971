from __future__ import annotations

from typing import Any

import pytest

from omnitenant_context import TenantContext
from tests.tenantapp.models import Note

pytestmark = pytest.mark.postgres


def test_schema_tenants_are_isolated(tenant_factory: Any) -> None:
    acme = tenant_factory("smoke_acme")
    globex = tenant_factory("smoke_globex")
    with TenantContext.use_tenant(acme):
        Note.objects.create(text="acme note")
    with TenantContext.use_tenant(globex):
        assert Note.objects.count() == 0
    with TenantContext.use_tenant(acme):
        assert list(Note.objects.values_list("text", flat=True)) == ["acme note"]
