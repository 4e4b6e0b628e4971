"""omnitenant-context installs alone, pulls in nothing, and imports without Django."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "packages" / "omnitenant-context"


def test_installs_nothing_else_and_imports_without_django(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    environ = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    environ.pop("PYTHONPATH", None)
    before = _installed(python, environ)
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(PACKAGE)],
        check=True,
        env=environ,
        cwd=tmp_path,
    )
    added = _installed(python, environ) - before
    assert added == {"omnitenant-context"}
    probe = (
        "import sys, omnitenant_context as oc;"
        "assert 'django' not in sys.modules, 'django was imported';"
        "print(oc.__version__)"
    )
    result = subprocess.run(
        [python, "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
    )
    assert result.stdout.strip() == _version()
    assert sys.prefix != str(env_dir)


def _installed(python: Path, environ: dict[str, str]) -> set[str]:
    listing = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
        env=environ,
    )
    return {entry["name"].lower() for entry in json.loads(listing.stdout)}


def _version() -> str:
    about = (PACKAGE / "src" / "omnitenant_context" / "__about__.py").read_text()
    return about.split('"')[1]
