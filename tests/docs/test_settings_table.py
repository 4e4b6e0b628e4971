"""docs/configuration.md lists every OMNITENANT_CONFIG key exactly as it is declared."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from omnitenant_backends.config import known_settings

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "settings_table.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("settings_table", _SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_matches_the_declarations() -> None:
    script = _script()
    page = script.PAGE.read_text(encoding="utf-8")
    assert script.render(page) == page, (
        "docs/configuration.md differs from the settings declarations: run "
        "`./dev hatch run python scripts/settings_table.py --write`"
    )


def test_every_declared_key_has_a_row() -> None:
    page = _script().PAGE.read_text(encoding="utf-8")
    for key in known_settings():
        assert f"| `{key}` |" in page, key


def test_a_changed_declaration_changes_the_page() -> None:
    # The check is not vacuous: a different default renders a different page.
    script = _script()
    page = script.PAGE.read_text(encoding="utf-8")
    row = "| `MAX_OPEN_TENANT_CONNECTIONS` | `32` |"
    changed = page.replace(row, row.replace("`32`", "`33`"))
    assert changed != page
    assert script.render(changed) == page
