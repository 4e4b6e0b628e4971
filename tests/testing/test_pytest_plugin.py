"""The pytest plugin, used by a small user suite run with pytester in a subprocess.

The inner suite writes a note in each of 30 tests over 3 tenants (two schema tenants,
one SQLite database tenant) and checks that it sees exactly its own note, in the ORM and
through ``tenant_client``: a test's data must be gone before the next one starts. It runs
with tenants reused for the session (the default), without reuse, and without reuse nor
the schema template; the durations are printed in the run's summary.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from omnitenant_backends.conf import backend_settings
from tests.testing._timings import DURATIONS

pytestmark = pytest.mark.postgres

REPOSITORY = Path(__file__).resolve().parents[2]
TENANTS = ("pt_alpha", "pt_beta", "pt_gamma")

INNER_INI = f"""
[pytest]
DJANGO_SETTINGS_MODULE = tests.settings
django_find_project = false
pythonpath = . {REPOSITORY}
addopts = --import-mode=importlib --strict-markers -p no:randomly -p no:cacheprovider
filterwarnings = error
"""

INNER_CONFTEST = """
from pathlib import Path

from django_omnitenant.signals import tenant_created

pytest_plugins = ["django_omnitenant.testing.pytest_plugin"]

CREATIONS = Path(__file__).parent / "creations.txt"


def record_creation(sender, tenant, **kwargs):
    with CREATIONS.open("a") as log:
        log.write(tenant.tenant_id + "\\n")


tenant_created.connect(record_creation, dispatch_uid="inner-suite-creations")
"""

INNER_TESTS = """
import pytest

from omnitenant_context import TenantContext
from tests.tenantapp.models import Note

TENANTS = [
    {"tenant_id": "pt_alpha"},
    {"tenant_id": "pt_beta"},
    {"tenant_id": "pt_gamma", "isolation_type": "database"},
]


def write_and_see_only_mine(tenant, client, text):
    assert TenantContext.get_tenant().tenant_id == tenant.tenant_id
    Note.objects.create(text=text)
    # Exactly one row: the notes of earlier tests in this tenant were rolled back.
    assert list(Note.objects.values_list("text", flat=True)) == [text]
    assert client.get("/notes/").json() == {"notes": [text]}


@pytest.mark.parametrize("case", range(9))
@pytest.mark.parametrize("active_tenant", TENANTS, indirect=True, ids=lambda t: t["tenant_id"])
def test_parametrised(active_tenant, tenant_client, case):
    write_and_see_only_mine(active_tenant, tenant_client, f"{active_tenant.tenant_id} {case}")


@pytest.mark.tenant("pt_alpha")
def test_marked_alpha(active_tenant, tenant_client):
    write_and_see_only_mine(active_tenant, tenant_client, "marked")


@pytest.mark.tenant("pt_beta")
def test_marked_beta(active_tenant, tenant_client):
    write_and_see_only_mine(active_tenant, tenant_client, "marked")


@pytest.mark.tenant("pt_gamma", isolation_type="database")
def test_marked_gamma(active_tenant, tenant_client):
    write_and_see_only_mine(active_tenant, tenant_client, "marked")
"""

# Settings of the slowest run: every schema tenant migrated instead of cloned.
INNER_SETTINGS_WITHOUT_TEMPLATE = """
from tests.settings import *  # noqa: F403

OMNITENANT_CONFIG = {**OMNITENANT_CONFIG, "CLONE_SCHEMA_TEMPLATE": False}  # noqa: F405
"""


@pytest.mark.parametrize(
    "run",
    [
        ("tenants reused, schema template", "1", "tests.settings", 3),
        ("fresh tenants per test, schema template", "0", "tests.settings", 30),
        ("fresh tenants per test, migrations only", "0", "inner_settings", 30),
    ],
    ids=["reused", "fresh", "fresh-migrated"],
)
def test_thirty_tests_over_three_tenants(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    run: tuple[str, str, str, int],
) -> None:
    label, reuse, settings_module, creations = run
    pytester.makefile(".ini", pytest=INNER_INI)
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_notes=INNER_TESTS, inner_settings=INNER_SETTINGS_WITHOUT_TEMPLATE)
    outer_database = settings.DATABASES["default"]["TEST"]["NAME"]
    # Its own test database: the outer session's stays untouched.
    monkeypatch.setenv("OMNITENANT_TEST_DB_NAME", f"{outer_database}_inner")
    monkeypatch.setenv("OMNITENANT_TEST_REUSE_TENANTS", reuse)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", settings_module)
    monkeypatch.delenv("OMNITENANT_TEST_DATABASE", raising=False)

    started = time.perf_counter()
    result = pytester.runpytest_subprocess("-q", f"--ds={settings_module}", "--create-db")
    elapsed = time.perf_counter() - started
    request.config.stash.setdefault(DURATIONS, {})[label] = elapsed

    result.assert_outcomes(passed=30)
    created = (pytester.path / "creations.txt").read_text().split()
    assert len(created) == creations
    assert sorted(set(created)) == list(TENANTS)
    # The session dropped its database tenant's file when it ended.
    sqlite_file = Path(str(backend_settings().sqlite_directory)) / "pt_gamma.sqlite3"
    assert not sqlite_file.exists()


def test_the_plugin_is_not_an_entry_point() -> None:
    # An entry point would load the plugin into every project that installs the package.
    from importlib.metadata import entry_points

    plugins = [entry.value for entry in entry_points(group="pytest11")]
    assert not [value for value in plugins if value.startswith("django_omnitenant")]
    assert sys.modules.get("django_omnitenant.testing.pytest_plugin") is not None
