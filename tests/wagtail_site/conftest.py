"""The Wagtail suite's timings, printed at the end of the run (for docs/performance.md)."""

from __future__ import annotations

import pytest

#: (what, seconds) pairs the acceptance test records.
TIMINGS: list[tuple[str, float]] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("Wagtail tenant timings")
    for what, seconds in TIMINGS:
        terminalreporter.write_line(f"{what:<58} {seconds:7.2f} s")
