"""``./dev lint`` fails when a package imports one it must not (import-linter's contracts).

Each case copies the five packages' sources to a temporary folder, adds one import that
breaks the layering, and runs ``lint-imports`` with the project's own contracts
(``[tool.importlinter]`` of pyproject.toml) against the copy. The unchanged copy passes,
so a failure is the added line's doing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "omnitenant_context": "omnitenant-context",
    "omnitenant_resolvers": "omnitenant-resolvers",
    "omnitenant_backends": "omnitenant-backends",
    "django_omnitenant": "omnitenant-django",
    "omnitenant_celery": "omnitenant-celery",
}
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_copy(tmp_path: Path, package: str = "", module: str = "", line: str = "") -> str:
    """Copy the sources, append ``line`` to ``package/module``, return the lint's output."""
    paths = []
    for name, folder in FOLDERS.items():
        target = tmp_path / folder
        shutil.copytree(
            ROOT / "packages" / folder / "src" / name,
            target / name,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        paths.append(str(target))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if package:
        source = tmp_path / FOLDERS[package] / package / module
        source.write_text(source.read_text(encoding="utf-8") + line, encoding="utf-8")
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tmp_path / "pyproject.toml")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert ("BROKEN" in output) == (result.returncode != 0), output
    return output if result.returncode != 0 else ""


def test_the_sources_as_they_are_keep_every_contract(tmp_path: Path) -> None:
    assert _lint_copy(tmp_path) == ""


def test_a_function_local_import_of_the_django_app_in_the_context_fails(
    tmp_path: Path,
) -> None:
    output = _lint_copy(
        tmp_path,
        "omnitenant_context",
        "_context.py",
        "\n\ndef _probe() -> object:\n"
        "    from django_omnitenant.utils import get_current_tenant\n\n"
        "    return get_current_tenant\n",
    )
    assert "omnitenant_context._context -> django_omnitenant.utils" in output
    assert "Django app above resolvers" in output


@pytest.mark.parametrize(
    ("package", "module"),
    [
        ("omnitenant_context", "_identifiers.py"),
        ("omnitenant_resolvers", "_hosts.py"),
        ("omnitenant_celery", "_task.py"),
    ],
)
def test_django_in_a_django_free_package_fails(tmp_path: Path, package: str, module: str) -> None:
    output = _lint_copy(tmp_path, package, module, "\nimport django.conf\n")
    assert "No Django in the context" in output
    assert f"{package}.{module[:-3]} -> django (l." in output


def test_the_middle_layer_packages_stay_independent(tmp_path: Path) -> None:
    output = _lint_copy(
        tmp_path, "omnitenant_celery", "_task.py", "\nimport omnitenant_backends.fleet\n"
    )
    assert "omnitenant_celery._task -> omnitenant_backends.fleet" in output
