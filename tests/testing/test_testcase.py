"""``TenantTestCase`` run under pytest: isolation per test, per tenant, and reuse.

Every test writes a note and expects to see only that note, so a row left behind by
another test (in whatever order they run) fails it; it then looks from another tenant,
which must not see the row, and through ``self.client``, which must reach the class's
tenant by its host.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.db import transaction

from django_omnitenant.signals import tenant_created
from django_omnitenant.testing import TenantRegistry, TenantSetupError, TenantTestCase
from omnitenant_context import IsolationType, Tenant, TenantContext
from tests.tenantapp.models import Note, Notebook

pytestmark = pytest.mark.postgres

CREATED: list[str] = []


def _record_creation(sender: Any, tenant: Tenant, **kwargs: Any) -> None:
    CREATED.append(tenant.tenant_id)


tenant_created.connect(_record_creation, dispatch_uid="tests.testing.test_testcase")


class IsolationChecks(TenantTestCase):
    """The checks both kinds of tenant must pass; the subclasses pick the tenants."""

    __test__ = False  # only its subclasses, which name the tenants, are collected
    other_id: ClassVar[str]
    notebook: ClassVar[Notebook]

    @classmethod
    def setUpTestData(cls) -> None:
        # Runs inside the tenant: the notebook is the tenant's, for every test of the class.
        cls.notebook = Notebook.objects.create(title="class data")

    def write_and_check(self, text: str) -> None:
        active = TenantContext.get_tenant()
        assert active is not None
        assert active.tenant_id == self.tenant_id
        Note.objects.create(text=text, notebook=self.notebook)
        assert list(Note.objects.values_list("text", flat=True)) == [text]
        with TenantContext.use_tenant(self.other_tenants[self.other_id]):
            assert not Note.objects.exists()
            assert not Notebook.objects.exists()
        assert self.client.get("/notes/").json() == {"notes": [text]}

    def test_first_note(self) -> None:
        self.write_and_check("first")

    def test_second_note(self) -> None:
        self.write_and_check("second")


class TestSchemaTenant(IsolationChecks):
    __test__ = True
    tenant_id = "tc_alpha"
    other_id = "tc_beta"
    other_tenant_options: ClassVar[dict[str, dict[str, Any]]] = {"tc_beta": {}}


class TestDatabaseTenant(IsolationChecks):
    __test__ = True
    tenant_id = "tc_db"
    tenant_options: ClassVar[dict[str, Any]] = {"isolation_type": IsolationType.DATABASE.value}
    other_id = "tc_alpha"
    other_tenant_options: ClassVar[dict[str, dict[str, Any]]] = {"tc_alpha": {}}

    def test_the_tenant_database_is_in_the_test_transaction(self) -> None:
        assert self.tenant.database_alias in self.databases
        assert transaction.get_connection(self.tenant.database_alias).in_atomic_block

    def test_tenants_are_created_once_per_session(self) -> None:
        # tc_alpha is also TestSchemaTenant's: the session registry made it once.
        assert CREATED.count("tc_alpha") == 1
        assert CREATED.count("tc_db") == 1


def test_a_tenant_asked_for_with_other_options_is_refused(
    tenant_session_factory: TenantRegistry,
) -> None:
    tenant = tenant_session_factory("tc_alpha")
    assert tenant_session_factory("tc_alpha") is tenant
    with pytest.raises(TenantSetupError, match="one set of options"):
        tenant_session_factory("tc_alpha", isolation_type=IsolationType.DATABASE.value)


def test_no_tenant_is_created_inside_a_test_transaction(
    tenant_session_factory: TenantRegistry, db: None
) -> None:
    with pytest.raises(TenantSetupError, match="inside a transaction"):
        tenant_session_factory("tc_never")
    assert "tc_never" not in tenant_session_factory
