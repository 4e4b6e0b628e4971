"""Across packages, only public API is used: no private module, no name outside ``__all__``.

Each of the six distributions may be installed and upgraded on its own, so what one imports
from another is a promise that must be visible where it is made: a module without a leading
underscore, and a name listed in that module's ``__all__``. The layering itself (who may
import whom) is checked by import-linter in ``./dev lint``; this test checks the names.
Every import counts, also one inside a function or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "omnitenant_context": "omnitenant-context",
    "omnitenant_resolvers": "omnitenant-resolvers",
    "omnitenant_backends": "omnitenant-backends",
    "django_omnitenant": "omnitenant-django",
    "omnitenant_celery": "omnitenant-celery",
}


def _sources() -> Iterator[tuple[str, Path]]:
    for package, folder in PACKAGES.items():
        for path in sorted((ROOT / "packages" / folder / "src" / package).rglob("*.py")):
            yield package, path


def _cross_package_imports(package: str, path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line, module, name) for each import of another package; name None for ``import m``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top in PACKAGES and top != package:
                for alias in node.names:
                    yield node.lineno, node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in PACKAGES and top != package:
                    yield node.lineno, alias.name, None


def _violation(module: str, name: str | None) -> str | None:
    if any(part.startswith("_") for part in module.split(".")):
        return f"imports the private module {module}"
    if name is None:
        return None
    if name.startswith("_"):
        return f"imports the private name {module}.{name}"
    public = getattr(importlib.import_module(module), "__all__", None)
    if public is None:
        return f"imports from {module}, which has no __all__"
    if name in public or _is_module(f"{module}.{name}"):  # a public submodule is fine
        return None
    return f"imports {module}.{name}, which is not in {module}.__all__"


def _is_module(dotted: str) -> bool:
    try:
        importlib.import_module(dotted)
    except ImportError:
        return False
    return True


def test_packages_use_only_each_others_public_api() -> None:
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {problem}"
        for package, path in _sources()
        for line, module, name in _cross_package_imports(package, path)
        if (problem := _violation(module, name)) is not None
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from omnitenant_backends._clone import clone_schema", "private module"),
        ("from omnitenant_backends.database import _registered", "private name"),
        ("from omnitenant_backends.database import logger", "not in"),
        ("def f():\n    from omnitenant_backends.conf import backend_settings\n", None),
    ],
)
def test_the_check_sees_what_it_should(tmp_path: Path, source: str, expected: str | None) -> None:
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    found = [
        _violation(module, name)
        for _, module, name in _cross_package_imports("django_omnitenant", path)
    ]
    assert len(found) == 1
    if expected is None:
        assert found[0] is None
    else:
        assert found[0] is not None
        assert expected in found[0]
