"""``TestCase`` classes for unittest-style suites (``manage.py test`` or pytest)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.db import DEFAULT_DB_ALIAS
from django.test import TestCase

from django_omnitenant.testing._client import TenantClient, primary_domain
from django_omnitenant.testing._registry import (
    TenantRegistry,
    current_registry,
    reuse_from_environment,
    transaction_aliases,
)
from omnitenant_context import Tenant, TenantContext, TenantScope

__all__ = ["TenantTestCase"]


class TenantTestCase(TestCase):
    """A ``TestCase`` whose tests run inside :attr:`tenant_id`'s tenant.

    The tenant is provisioned once, in ``setUpClass``, before the class transaction starts
    (its DDL could not be rolled back with the tests' data). While a session registry is
    installed (the pytest plugin installs one; see
    :func:`~django_omnitenant.testing.use_registry`) every class asking for the same id
    shares one tenant, dropped when the session ends; without one, or with
    ``OMNITENANT_TEST_REUSE_TENANTS=0``, each class makes its tenants and drops them after
    its last test.

    Each test runs in Django's usual rolled-back transaction, opened on the master
    connection (which carries schema tenants) and on every database tenant's own alias,
    so nothing a test writes, in any of the class's tenants or in the master database,
    is seen by the next test. ``setUpTestData`` and every test run with the tenant active;
    ``self.client`` is a :class:`TenantClient` on the tenant's primary domain.

    Class attributes to set:

    * ``tenant_id`` and ``tenant_options`` (``isolation_type``, ``domain``, ``name`` and
      any tenant model field, as for :class:`~django_omnitenant.testing.TenantRegistry`);
    * ``other_tenant_options``: further tenants by id (with their options), reachable as
      ``self.other_tenants[id]`` for tests that check what another tenant sees.
    """

    tenant_id: ClassVar[str] = "test_tenant"
    tenant_options: ClassVar[Mapping[str, Any]] = {}
    other_tenant_options: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    tenant: ClassVar[Tenant]
    other_tenants: ClassVar[dict[str, Tenant]]
    tenant_domain: ClassVar[str]
    client: TenantClient

    # The databases the subclass itself declared: setUpClass adds the tenants' aliases
    # to a copy, so a subclass never inherits another class's tenant aliases.
    _declared_databases: ClassVar[Any] = frozenset({DEFAULT_DB_ALIAS})
    _tenant_scope: ClassVar[TenantScope | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "databases" in cls.__dict__:
            cls._declared_databases = cls.__dict__["databases"]

    @classmethod
    def setUpClass(cls) -> None:
        registry = current_registry()
        if registry is None or not registry.reuse or not reuse_from_environment(True):
            registry = TenantRegistry(reuse=False)
            # Class cleanups also run when setUpClass fails half-way.
            cls.addClassCleanup(registry.close)
        cls.tenant = registry(cls.tenant_id, **cls.tenant_options)
        cls.other_tenants = {
            tenant_id: registry(tenant_id, **options)
            for tenant_id, options in cls.other_tenant_options.items()
        }
        cls.tenant_domain = primary_domain(cls.tenant)
        declared = cls._declared_databases
        if declared != "__all__":
            aliases = transaction_aliases([cls.tenant, *cls.other_tenants.values()])
            cls.databases = {*declared, *aliases}
        with TenantContext.use_tenant(cls.tenant):
            super().setUpClass()

    # _pre_setup/_post_teardown are the hooks Django's own test cases use around every
    # test (after its transaction opens, before it is rolled back); django-stubs does not
    # declare them.
    @classmethod
    def _pre_setup(cls) -> None:
        super()._pre_setup()  # type: ignore[misc]
        cls.client = TenantClient(cls.tenant, domain=cls.tenant_domain)
        scope = TenantContext.use_tenant(cls.tenant)
        scope.__enter__()
        cls._tenant_scope = scope

    def _post_teardown(self) -> None:
        scope, type(self)._tenant_scope = type(self)._tenant_scope, None
        if scope is not None:
            scope.__exit__(None, None, None)
        super()._post_teardown()  # type: ignore[misc]
