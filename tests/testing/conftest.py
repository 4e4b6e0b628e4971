"""The test helpers' tests: pytester runs small user suites in a subprocess.

The plugin is enabled in ``tests/conftest.py`` (pytest honours ``pytest_plugins`` only in
the top-level conftest), as a user would enable it: the ``TenantTestCase`` classes here
share one session registry, and the docs' samples can use the ``tenant`` marker.
"""

from __future__ import annotations

import pytest

from tests.testing._timings import DURATIONS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    durations = terminalreporter.config.stash.get(DURATIONS, {})
    if not durations:
        return
    # Reported, never asserted: timings depend on the machine.
    terminalreporter.write_sep("-", "omnitenant test helpers: 30 tests over 3 tenants")
    for label, seconds in durations.items():
        terminalreporter.write_line(f"{label:<48} {seconds:6.2f} s")
