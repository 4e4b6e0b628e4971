"""pytest fixtures for suites that test an omnitenant project (needs pytest-django).

Enable it explicitly, in the root ``conftest.py``::

    pytest_plugins = ["django_omnitenant.testing.pytest_plugin"]

or with ``-p django_omnitenant.testing.pytest_plugin``. It is deliberately not registered
through a ``pytest11`` entry point: an entry point would load it into every pytest run of
every environment that merely has omnitenant-django installed, including projects that do
not use pytest-django or do not want its fixtures and marker.

Fixtures:

* ``tenant_session_factory`` (session): a :class:`~django_omnitenant.testing.TenantRegistry`;
  ``tenant_session_factory("acme", isolation_type="database")`` creates the tenant the
  first time and returns the same one afterwards. Every tenant is dropped at session end.
* ``active_tenant``: the tenant a test runs in, active for the whole test, which runs in a
  transaction rolled back afterwards (on the master connection and, for a database tenant,
  on its own). Which tenant: ``@pytest.mark.tenant("acme", isolation_type=...)``, an
  indirect parameter (``@pytest.mark.parametrize("active_tenant", ["acme", {"tenant_id":
  "globex", "isolation_type": "database"}], indirect=True)``) or else the
  ``omnitenant_default_tenant`` ini option (``test_tenant``). It gives the test database
  access itself: do not combine it with pytest-django's ``db`` fixture or ``django_db``
  marker, whose transaction would start before the tenant could be created.
* ``tenant_client``: a :class:`~django_omnitenant.testing.TenantClient` on the active
  tenant's primary domain.

``TenantTestCase`` classes collected in the same session share the session's tenants.

Reuse: with the ``omnitenant_reuse_tenants`` ini option set to false, or
``OMNITENANT_TEST_REUSE_TENANTS=0`` (which wins), every test gets freshly created tenants,
dropped after it: only useful to measure what reuse saves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

import pytest
from django.db import connections
from django.test.utils import setup_databases, teardown_databases

from django_omnitenant.testing._cases import TenantTestCase
from django_omnitenant.testing._client import TenantClient
from django_omnitenant.testing._registry import (
    TenantRegistry,
    TenantSetupError,
    reuse_from_environment,
    rolled_back,
    transaction_aliases,
    use_registry,
)
from omnitenant_backends.placement import servers
from omnitenant_context import Tenant, TenantContext

__all__ = ["active_tenant", "tenant_client", "tenant_session_factory"]

_REUSE_INI = "omnitenant_reuse_tenants"
_DEFAULT_TENANT_INI = "omnitenant_default_tenant"


class _DatabaseBlocker(Protocol):
    """What this plugin uses of pytest-django's ``django_db_blocker``."""

    def unblock(self) -> AbstractContextManager[object]: ...


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        _REUSE_INI,
        type="bool",
        default=True,
        help="omnitenant: create each test tenant once per session (default true); "
        "OMNITENANT_TEST_REUSE_TENANTS overrides it.",
    )
    parser.addini(
        _DEFAULT_TENANT_INI,
        type="string",
        default="test_tenant",
        help="omnitenant: the tenant id active_tenant uses without a marker or parameter.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tenant(tenant_id, **options): the tenant active_tenant provides for this test "
        "(options: isolation_type, domain, name and tenant model fields).",
    )


@pytest.fixture(scope="session")
def _omnitenant_master_database(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    django_db_blocker: _DatabaseBlocker,
    django_db_keepdb: bool,
    django_db_createdb: bool,
) -> Iterator[None]:
    # pytest-django sets up only the databases of tests that use 'db' or a django_db
    # marker, and active_tenant must use neither; the master test database is then made
    # here, as pytest-django would make it, and so is the test database of every other
    # server that can hold schema tenants: a test tenant placed there must never reach
    # the server's real database.
    missing: dict[str, str] = {}
    for alias in servers():
        connection = connections[alias]
        creation: Any = connection.creation  # django-stubs does not declare _get_test_db_name
        if connection.settings_dict["NAME"] != creation._get_test_db_name():
            missing[alias] = alias
    if not missing:
        yield  # set up already (by pytest-django or the project's django_db_setup)
        return
    keepdb = django_db_keepdb and not django_db_createdb
    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            keepdb=keepdb,
            aliases=missing,  # a mapping in django-stubs; Django only tests `in`
            serialized_aliases=set(),
        )
    yield
    if not keepdb:
        with django_db_blocker.unblock():
            teardown_databases(config, verbosity=request.config.option.verbose)


@pytest.fixture(scope="session")
def tenant_session_factory(
    request: pytest.FixtureRequest,
    _omnitenant_master_database: None,
    django_db_blocker: _DatabaseBlocker,
) -> Iterator[TenantRegistry]:
    """Test tenants created once per id for the session, dropped when it ends."""
    reuse = reuse_from_environment(bool(request.config.getini(_REUSE_INI)))
    registry = TenantRegistry(reuse=reuse, database_access=django_db_blocker.unblock)
    with use_registry(registry):
        try:
            yield registry
        finally:
            # Before pytest-django's django_db_setup tears down the test database.
            registry.close()


@pytest.fixture
def active_tenant(
    request: pytest.FixtureRequest,
    tenant_session_factory: TenantRegistry,
    django_db_blocker: _DatabaseBlocker,
) -> Iterator[Tenant]:
    """The test's tenant, active, inside transactions rolled back after the test."""
    tenant_id, options = _requested_tenant(request)
    # Created (or found) before any transaction starts: see TenantRegistry.
    tenant = tenant_session_factory(tenant_id, **options)
    try:
        with (
            django_db_blocker.unblock(),
            rolled_back(transaction_aliases([tenant])),
            TenantContext.use_tenant(tenant),
        ):
            yield tenant
    finally:
        tenant_session_factory.release(tenant_id)


@pytest.fixture
def tenant_client(active_tenant: Tenant) -> TenantClient:
    """A test client whose requests arrive at the active tenant's primary domain."""
    return TenantClient(active_tenant)


@pytest.fixture(autouse=True, scope="class")
def _omnitenant_unittest_registry(request: pytest.FixtureRequest) -> None:
    # TenantTestCase classes cannot request fixtures; starting the session registry before
    # their setUpClass lets them share its tenants (and have them dropped at session end).
    cls = request.cls
    if cls is not None and issubclass(cls, TenantTestCase):
        request.getfixturevalue("tenant_session_factory")


def _requested_tenant(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    param = getattr(request, "param", None)
    if param is not None:
        return _tenant_from_param(param)
    marker = request.node.get_closest_marker("tenant")
    if marker is None:
        return str(request.config.getini(_DEFAULT_TENANT_INI)), {}
    options = dict(marker.kwargs)
    if len(marker.args) == 1 and "tenant_id" not in options:
        return str(marker.args[0]), options
    if not marker.args and isinstance(options.get("tenant_id"), str):
        return str(options.pop("tenant_id")), options
    raise TenantSetupError(
        f"@pytest.mark.tenant{marker.args}{marker.kwargs} names no single tenant: write "
        "@pytest.mark.tenant('acme', isolation_type='schema')."
    )


def _tenant_from_param(param: object) -> tuple[str, dict[str, Any]]:
    if isinstance(param, str):
        return param, {}
    if isinstance(param, Mapping) and isinstance(param.get("tenant_id"), str):
        options = {str(key): value for key, value in param.items() if key != "tenant_id"}
        return str(param["tenant_id"]), options
    raise TenantSetupError(
        f"active_tenant was parametrised with {param!r}: pass a tenant id or a dict with "
        "'tenant_id' and the tenant's options."
    )
