"""Check that mypy still refuses every deliberate misuse in ``tests/typing/negative``.

``python -m tests.typing.check_negative`` (run by ``./dev types``) type-checks each file of
that folder on its own, with the project's mypy configuration, and exits non-zero unless
mypy reports an error on exactly the lines marked ``# E: code[, code...]``, with exactly
those codes: a marked line that stops failing, a code that changes, or an error on an
unmarked line all fail the check.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

NEGATIVE_DIR = Path(__file__).resolve().parent / "negative"

_EXPECTATION = re.compile(r"#\s*E:\s*(?P<codes>[a-z][a-z-]*(?:\s*,\s*[a-z][a-z-]*)*)\s*$")
_ERROR = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+): error: (?P<message>.*?)(?:  \[(?P<code>[a-z-]+)\])?$"
)

Finding = tuple[int, str]


def expected_errors(source: str) -> set[Finding]:
    """The ``(line, code)`` pairs that the ``# E:`` comments of ``source`` announce."""
    expected: set[Finding] = set()
    for number, text in enumerate(source.splitlines(), start=1):
        match = _EXPECTATION.search(text)
        if match is not None:
            expected.update((number, code.strip()) for code in match["codes"].split(","))
    return expected


def reported_errors(output: str, path: str) -> tuple[set[Finding], list[str]]:
    """The ``(line, code)`` pairs mypy reported for ``path``, and every other error line.

    An error without a code, or in another file, is returned in the second list: the
    check treats it as unexpected.
    """
    found: set[Finding] = set()
    others: list[str] = []
    for text in output.splitlines():
        match = _ERROR.match(text)
        if match is None:
            continue
        if match["code"] is None or Path(match["path"]).resolve() != Path(path).resolve():
            others.append(text)
        else:
            found.add((int(match["line"]), match["code"]))
    return found, others


def compare(expected: set[Finding], found: set[Finding], others: Iterable[str]) -> list[str]:
    """Every disagreement between the marks and mypy's report, as readable lines."""
    problems = [
        f"line {line}: expected [{code}], mypy no longer reports it"
        for line, code in sorted(expected - found)
    ]
    problems += [f"line {line}: unexpected [{code}]" for line, code in sorted(found - expected)]
    problems += [f"unexpected: {text}" for text in others]
    return problems


def check_file(path: Path) -> list[str]:
    """Run mypy on ``path`` alone and compare its report with the file's marks."""
    expected = expected_errors(path.read_text(encoding="utf-8"))
    if not expected:
        return [f"{path}: no '# E:' marks; a negative file must expect errors"]
    relative = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--hide-error-context", str(relative)],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        return [f"{path}: mypy exited {run.returncode}:\n{run.stdout}{run.stderr}"]
    found, others = reported_errors(run.stdout, str(relative))
    return [f"{relative}: {problem}" for problem in compare(expected, found, others)]


def main() -> int:
    files = sorted(NEGATIVE_DIR.glob("*.py"))
    files = [path for path in files if path.name != "__init__.py"]
    if not files:
        print(f"no negative typing files in {NEGATIVE_DIR}", file=sys.stderr)  # noqa: T201
        return 1
    problems = [problem for path in files for problem in check_file(path)]
    for problem in problems:
        print(problem, file=sys.stderr)  # noqa: T201
    if problems:
        return 1
    count = sum(len(expected_errors(path.read_text(encoding="utf-8"))) for path in files)
    print(f"negative typing: mypy reports all {count} expected errors in {len(files)} file(s)")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
