"""The browser suite's set-up: Debian's Chromium, the example site on a free port.

Runs in its own hatch env (``./dev hatch run browser:test``), once from ``.ci/run``. The
browser is ``/usr/bin/chromium`` driven by ``/usr/bin/chromedriver`` (Debian's chromium
and chromium-driver packages; ``OMNITENANT_CHROMIUM`` and ``OMNITENANT_CHROMEDRIVER``
name others). Without them the tests skip, except under ``OMNITENANT_REQUIRE_SERVICES=1``,
where they fail. A failed test leaves a screenshot and the page's HTML in the folder the
run prints (``browser-artifacts/``, or ``OMNITENANT_BROWSER_ARTIFACTS``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.conftest import services_required
from tests.servers import ROOT, free_port, running_server
from tests.support import per_run

SITE = ROOT / "examples" / "site"
CHROMIUM = Path(os.environ.get("OMNITENANT_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("OMNITENANT_CHROMEDRIVER", "/usr/bin/chromedriver"))
ARTIFACTS = Path(os.environ.get("OMNITENANT_BROWSER_ARTIFACTS", ROOT / "browser-artifacts"))

_failed_phase = pytest.StashKey[bool]()
_saved: list[Path] = []


def pytest_report_header() -> list[str]:
    return [
        f"browser: {CHROMIUM} driven by {CHROMEDRIVER}",
        f"browser artifacts of failed tests go to {ARTIFACTS}",
    ]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember on the test that a phase failed: the browser fixture saves artifacts then."""
    report = yield
    if report.failed:
        item.stash[_failed_phase] = True
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _saved:
        terminalreporter.section("browser artifacts")
        terminalreporter.write_line(f"screenshots and pages of failed tests in {ARTIFACTS}:")
        for path in _saved:
            terminalreporter.write_line(f"  {path.name}")


@dataclass(frozen=True)
class ExampleSite:
    """The example site served by ``runserver`` on 127.0.0.1:``port``."""

    port: int
    var: Path

    def url(self, host: str = "localhost", path: str = "/") -> str:
        """``http://<host>:<port><path>``; Chromium resolves every *.localhost to loopback."""
        return f"http://{host}:{self.port}{path}"


@contextmanager
def _serving_example(var: Path, database_url: str | None) -> Iterator[ExampleSite]:
    """Set the example up (``setup_demo``) in ``var``, then serve it until the block ends."""
    environ = {
        **os.environ,
        "OMNITENANT_EXAMPLE_VAR": str(var),
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        # The site's folder first; a PYTHONPATH of the caller's is kept after it.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")])),
    }
    environ.pop("DATABASE_URL", None)
    if database_url is not None:
        environ["DATABASE_URL"] = database_url
    setup = subprocess.run(
        [sys.executable, "manage.py", "setup_demo"],
        cwd=SITE,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    port = free_port()
    argv = [sys.executable, str(SITE / "manage.py"), "runserver", "--noreload", f"127.0.0.1:{port}"]
    with running_server(argv, port, env=environ):
        yield ExampleSite(port, var)


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleSite]:
    """``./dev example``'s site on SQLite (database tenants), in a fresh folder."""
    with _serving_example(tmp_path_factory.mktemp("example"), None) as site:
        yield site


@pytest.fixture(scope="session")
def example_site_on_postgresql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleSite]:
    """The same site with ``DATABASE_URL``: schema tenants in a database of this run."""
    import psycopg
    from psycopg import sql

    host = os.environ.get("OMNITENANT_PGHOST", "127.0.0.1")
    user = os.environ.get("OMNITENANT_PGUSER", "postgres")
    # Named like the suite's other per-run databases, so a killed run's is dropped later.
    name = per_run("omnitenant_t_example")
    database = sql.Identifier(name)
    with psycopg.connect(host=host, user=user, dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(database))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(database))
    try:
        url = f"postgres://{user}@{host}:5432/{name}"
        with _serving_example(tmp_path_factory.mktemp("example-pg"), url) as site:
            yield site
    finally:
        with psycopg.connect(host=host, user=user, dbname="postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))


def _missing_browser() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (path.is_file() and os.access(path, os.X_OK)):
            return f"{path} is missing (Debian packages chromium and chromium-driver)"
    return None


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium per test (no cookies of another test's sign-in)."""
    missing = _missing_browser()
    if missing is not None:
        if services_required():
            pytest.fail(f"{missing} and OMNITENANT_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(missing)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--no-proxy-server",  # the example is on loopback; nothing else is fetched
        "--window-size=1280,900",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    # An explicit driver: Selenium Manager never downloads one.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
        if request.node.stash.get(_failed_phase, False):
            _save_artifacts(driver, request.node.nodeid)
    finally:
        driver.quit()


def _save_artifacts(driver: webdriver.Chrome, nodeid: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.rpartition("::")[2])
    screenshot = ARTIFACTS / f"{stem}.png"
    driver.save_screenshot(str(screenshot))
    page = ARTIFACTS / f"{stem}.html"
    page.write_text(f"<!-- {driver.current_url} -->\n{driver.page_source}")
    _saved.extend([screenshot, page])


@pytest.fixture(scope="session", autouse=True)
def _fresh_artifacts() -> None:
    """The folder holds this run's failures only."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
