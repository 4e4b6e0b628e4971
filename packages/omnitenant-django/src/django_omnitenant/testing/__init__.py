"""Test helpers for projects built on omnitenant.

* :class:`TenantTestCase`: a ``django.test.TestCase`` whose tests run inside a tenant,
  each in a transaction rolled back afterwards, with ``self.client`` on the tenant's host.
* :class:`TenantClient`: a test client that sends a tenant's primary domain as ``Host``.
* :class:`TenantRegistry`: test tenants created once per id and dropped at the end.
* ``django_omnitenant.testing.pytest_plugin``: the same as pytest fixtures; enable it
  with ``pytest_plugins = ["django_omnitenant.testing.pytest_plugin"]``.

See ``docs/testing.md``.
"""

from __future__ import annotations

from django_omnitenant.testing._cases import TenantTestCase
from django_omnitenant.testing._client import TenantClient, primary_domain
from django_omnitenant.testing._registry import (
    REUSE_ENVIRONMENT_VARIABLE,
    TenantRegistry,
    TenantSetupError,
    current_registry,
    default_domain,
    reuse_from_environment,
    rolled_back,
    transaction_aliases,
    use_registry,
)

__all__ = [
    "REUSE_ENVIRONMENT_VARIABLE",
    "TenantClient",
    "TenantRegistry",
    "TenantSetupError",
    "TenantTestCase",
    "current_registry",
    "default_domain",
    "primary_domain",
    "reuse_from_environment",
    "rolled_back",
    "transaction_aliases",
    "use_registry",
]
