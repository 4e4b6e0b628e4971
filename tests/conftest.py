"""Session-wide test set-up: which real services this machine offers.

Tests that need PostgreSQL, Redis or RabbitMQ carry the matching marker. When the service
is not reachable they are skipped, except under ``OMNITENANT_REQUIRE_SERVICES=1`` (set by
CI), where a missing service fails every such test instead of hiding it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

# The Wagtail acceptance suite needs Wagtail and its own settings: it runs in its own
# hatch env (`./dev hatch run wagtail:test`, which sets this variable), never in the matrix.
collect_ignore: list[str] = []
if not os.environ.get("OMNITENANT_WAGTAIL_SUITE"):
    collect_ignore.append("wagtail_site")
# Likewise the browser suite (Selenium, Chromium): `./dev hatch run browser:test`.
if not os.environ.get("OMNITENANT_BROWSER_SUITE"):
    collect_ignore.append("browser")

# The test helpers users enable the same way (their fixture names and the `tenant`
# marker collide with nothing here), and pytester for the helpers' own tests.
pytest_plugins = ["pytester", "django_omnitenant.testing.pytest_plugin"]

SERVICES: dict[str, tuple[str, int]] = {
    "postgres": (os.environ.get("OMNITENANT_PGHOST", "127.0.0.1"), 5432),
    "redis": ("127.0.0.1", 6379),
    "rabbitmq": ("127.0.0.1", 5672),
}


def services_required() -> bool:
    return os.environ.get("OMNITENANT_REQUIRE_SERVICES", "") not in ("", "0")


@cache
def service_available(name: str) -> bool:
    host, port = SERVICES[name]
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def pytest_report_header(config: pytest.Config) -> list[str]:
    found = [f"{name}={'up' if service_available(name) else 'DOWN'}" for name in SERVICES]
    mode = "required" if services_required() else "optional (missing ones skip)"
    import django

    return [
        f"omnitenant services: {', '.join(found)}; services {mode}",
        f"django {django.get_version()}",
    ]


# What a run names after itself ends in "_py<version>_<pid>" (tests/settings.py).
_RUN_NAME = re.compile(
    r"^(?:test_omnitenant_|omnitenant_t_\w+_|omnitenant-tests-)py\d+_(\d+)(?:_\w+)?$"
)


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remove what killed runs left behind: their process is gone, nobody uses it.

    A run that ends normally removes its own resources; one that is killed cannot. Only
    names of runs on this machine (a pid that no longer exists) on a local server, with no
    open connection, are dropped, so a run that is alive is never touched.
    """
    if os.environ.get("OMNITENANT_TEST_RUN_OWNER") != str(os.getpid()):
        return
    for folder in Path(tempfile.gettempdir()).glob("omnitenant-tests-py*"):
        match = _RUN_NAME.match(folder.name)
        if match and _dead(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
    host = SERVICES["postgres"][0]
    if host not in ("127.0.0.1", "localhost", "::1") or not service_available("postgres"):
        return
    import psycopg
    from psycopg import sql

    user = os.environ.get("OMNITENANT_PGUSER", "postgres")
    with psycopg.connect(host=host, user=user, dbname="postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT d.datname FROM pg_database d WHERE NOT EXISTS "
            "(SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)"
        ).fetchall()
        for (name,) in rows:
            match = _RUN_NAME.match(name)
            if match and _dead(int(match.group(1))):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove this run's SQLite folder, once, in the process that named the run."""
    if os.environ.get("OMNITENANT_TEST_RUN_OWNER") != str(os.getpid()):
        return
    from django.conf import settings

    if not settings.configured:
        return
    directory = settings.OMNITENANT_CONFIG.get("SQLITE_DIRECTORY")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name, (host, port) in SERVICES.items():
        if item.get_closest_marker(name) is None or service_available(name):
            continue
        message = f"{name} is not reachable at {host}:{port}"
        if services_required():
            pytest.fail(f"{message} and OMNITENANT_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def live_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Database access without a wrapping transaction, as in production.

    Tenant provisioning runs DDL, creates databases and opens connections of its own,
    which a test transaction cannot contain. Tests using this fixture clean up after
    themselves (the ``tenant_factory`` fixture drops what it created).
    """
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def tenant_factory(live_db: None) -> Iterator[Callable[..., Any]]:
    """Create tenants through the provisioning module; drop them (any state) after."""
    from django_omnitenant import provisioning

    created: list[Any] = []

    def create(tenant_id: str, isolation_type: str = "schema", **fields: Any) -> Any:
        tenant = provisioning.create_tenant(
            tenant_id,
            name=fields.pop("name", tenant_id.title()),
            isolation_type=isolation_type,
            **fields,
        )
        created.append(tenant)
        return tenant

    yield create
    for tenant in reversed(created):
        # Dropping is idempotent (IF EXISTS), also when the test dropped it already.
        provisioning.purge_tenant(tenant, require_mark=False)


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
) -> Iterator[None]:
    """Create the test master database for every test that touches a database.

    pytest-django creates only the databases named by ``django_db`` markers; tests on
    ``live_db`` carry none, so the master database is always set up here.
    """
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            aliases={"default": "master"},  # a mapping in django-stubs; Django only tests `in`
            serialized_aliases=set(),
        )
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=request.config.option.verbose)


# -- a second PostgreSQL server (placement of schema tenants across servers) -------------

#: The ``DATABASES`` alias under which ``second_server`` adds the second cluster.
SECOND_SERVER = "second"


@pytest.fixture(scope="session")
def second_cluster() -> Iterator[Any]:
    """A PostgreSQL 15 cluster of this run's own (tests/second_cluster.py), for the session.

    Started on first use, stopped (``pg_ctl stop`` on its data directory) at the end. When
    it cannot be started the test is skipped, or fails under OMNITENANT_REQUIRE_SERVICES=1.
    """
    from tests.second_cluster import SecondCluster, remove_abandoned_clusters

    remove_abandoned_clusters()
    try:
        cluster = SecondCluster(os.environ["OMNITENANT_TEST_RUN"])
        cluster.create_database("omnitenant")
    except Exception as exc:
        message = f"a second PostgreSQL cluster could not be started: {exc}"
        if services_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def second_server(second_cluster: Any, live_db: None) -> Iterator[str]:
    """The second cluster as the ``DATABASES`` alias ``"second"``, for one test.

    Only inside the test: elsewhere the placement policy must not see a second server.
    The alias joins ``settings.DATABASES`` (``override_settings``, so omnitenant's settings
    reload) and the connection handler's own copy, as a project's settings would have it.
    """
    import warnings

    from django.conf import settings
    from django.db import connections
    from django.test import override_settings

    entry = second_cluster.database_settings("omnitenant")
    override = override_settings(DATABASES={**settings.DATABASES, SECOND_SERVER: entry})
    with warnings.catch_warnings():
        # Django warns that overriding DATABASES does not reconnect: the handler's copy
        # is given the alias below.
        warnings.simplefilter("ignore", UserWarning)
        override.enable()
    handler_settings = connections.settings
    handler_settings[SECOND_SERVER] = connections.configure_settings(
        {"default": handler_settings["default"], SECOND_SERVER: entry}
    )[SECOND_SERVER]
    try:
        yield SECOND_SERVER
    finally:
        connections[SECOND_SERVER].close()
        del connections[SECOND_SERVER]
        del handler_settings[SECOND_SERVER]
        override.disable()
