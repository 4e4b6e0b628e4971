"""The pre-commit hooks run exactly what CI runs, through ./dev, and download nothing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _hooks() -> list[dict[str, str]]:
    """The hooks of .pre-commit-config.yaml (flat ``key: value`` lines; no YAML library)."""
    hooks: list[dict[str, str]] = []
    for line in (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*(- )?(\w[\w-]*): (.+)$", line)
        if match is None:
            continue
        key, value = match.group(2), match.group(3)
        if key == "id":
            hooks.append({})
        if hooks:
            hooks[-1][key] = value
    return hooks


def test_every_hook_is_a_local_dev_command() -> None:
    hooks = _hooks()
    assert hooks
    for hook in hooks:
        assert hook["language"] == "system", hook
        assert hook["entry"].startswith("./dev "), hook


def test_the_hooks_are_the_checks_ci_runs() -> None:
    entries = {hook["entry"] for hook in _hooks()}
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in ("./dev lint", "./dev types"):
        assert command in entries
        assert command in ci
