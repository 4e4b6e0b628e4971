"""The test helpers' tests: pytester runs small user suites in a subprocess.

The plugin is enabled here as a user would enable it, so the ``TenantTestCase`` classes of
this folder share one session registry (pytest registers it for the whole session; its
fixture names and the ``tenant`` marker collide with nothing else in the suite).
"""

from __future__ import annotations

import pytest

from tests.testing._timings import DURATIONS

pytest_plugins = ["pytester", "django_omnitenant.testing.pytest_plugin"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    durations = terminalreporter.config.stash.get(DURATIONS, {})
    if not durations:
        return
    # Reported, never asserted: timings depend on the machine.
    terminalreporter.write_sep("-", "omnitenant test helpers: 30 tests over 3 tenants")
    for label, seconds in durations.items():
        terminalreporter.write_line(f"{label:<48} {seconds:6.2f} s")
