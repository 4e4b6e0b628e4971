"""The bump half of scripts/release.py, on a throwaway git workspace (no network, no builds)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "release.py"
TODAY = dt.date(2026, 1, 2)


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("omnitenant_release_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve the module by name while the class body runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


release = _load()

CHANGELOG = "# Changelog of {name}\n\nIntro.\n\n## 0.1.0 (unreleased)\n\n- First release.\n"


def _member(root: Path, name: str, dependencies: list[str]) -> None:
    module = name.replace("-", "_")
    directory = root / "packages" / name
    (directory / "src" / module).mkdir(parents=True)
    (directory / "src" / module / "__about__.py").write_text('__version__ = "0.1.0"\n')
    deps = "".join(f'  "{dep}",\n' for dep in dependencies)
    (directory / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\ndynamic = ["version"]\ndependencies = [\n{deps}]\n\n'
        f'[tool.hatch.version]\npath = "src/{module}/__about__.py"\n'
    )
    (directory / "CHANGELOG.md").write_text(CHANGELOG.format(name=name))


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _commit(root: Path, subject: str) -> None:
    _git(root, "add", "-A")
    _git(root, "commit", "--quiet", "--no-gpg-sign", "-m", subject)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """alpha (no deps), beta (needs alpha >=0.1,<0.2), gamma, and the meta-package."""
    root = tmp_path / "ws"
    root.mkdir()
    _git(root, "init", "--quiet")
    _member(root, "omnitenant-alpha", [])
    _member(root, "omnitenant-beta", ["omnitenant-alpha>=0.1,<0.2", "Django>=5.2"])
    _member(root, "omnitenant-gamma", [])
    meta = root / "packages" / "omnitenant"
    meta.mkdir()
    (meta / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [project]
            name = "omnitenant"
            version = "0.1.0"
            dependencies = [
              "omnitenant-alpha==0.1.0",
              "omnitenant-beta==0.1.0",
              "omnitenant-gamma==0.1.0",
            ]
            """
        )
    )
    (meta / "CHANGELOG.md").write_text(CHANGELOG.format(name="omnitenant"))
    _commit(root, "Initial layout")
    return root


def _tag_all(root: Path) -> None:
    for name in ("omnitenant-alpha", "omnitenant-beta", "omnitenant-gamma", "omnitenant"):
        _git(root, "tag", f"{name}-v0.1.0")


def _touch_alpha(root: Path, subject: str = "Alpha: faster lookup") -> None:
    module = root / "packages" / "omnitenant-alpha" / "src" / "omnitenant_alpha" / "core.py"
    module.write_text(f"# {subject}\n")
    _commit(root, subject)


def _about(root: Path, name: str) -> str:
    module = name.replace("-", "_")
    return (root / "packages" / name / "src" / module / "__about__.py").read_text()


def test_only_packages_changed_since_their_tag_are_bumped(workspace: Path) -> None:
    _tag_all(workspace)
    _touch_alpha(workspace)
    _touch_alpha(workspace, "Alpha: second change")

    plan = release.plan_release(workspace, "patch")

    assert set(plan.bumps) == {"omnitenant-alpha", "omnitenant"}
    assert plan.unchanged == ["omnitenant-beta", "omnitenant-gamma"]
    alpha = plan.bumps["omnitenant-alpha"]
    assert str(alpha.new_version) == "0.1.1"
    assert alpha.reference == "omnitenant-alpha-v0.1.0"
    assert alpha.subjects == ["Alpha: second change", "Alpha: faster lookup"]


def test_patch_bump_writes_version_pin_meta_version_and_changelog(workspace: Path) -> None:
    _tag_all(workspace)
    _touch_alpha(workspace)
    beta_before = (workspace / "packages" / "omnitenant-beta" / "pyproject.toml").read_text()

    release.apply_plan(release.plan_release(workspace, "patch"), TODAY)

    assert _about(workspace, "omnitenant-alpha") == '__version__ = "0.1.1"\n'
    assert _about(workspace, "omnitenant-gamma") == '__version__ = "0.1.0"\n'
    meta = (workspace / "packages" / "omnitenant" / "pyproject.toml").read_text()
    assert 'version = "0.1.1"' in meta
    assert '"omnitenant-alpha==0.1.1"' in meta
    assert '"omnitenant-beta==0.1.0"' in meta
    # 0.1.1 stays inside beta's >=0.1,<0.2: beta is left alone.
    assert (workspace / "packages" / "omnitenant-beta" / "pyproject.toml").read_text() == (
        beta_before
    )
    changelog = (workspace / "packages" / "omnitenant-alpha" / "CHANGELOG.md").read_text()
    assert "Intro.\n\n## 0.1.1 (2026-01-02)\n\n- Alpha: faster lookup\n\n## 0.1.0" in changelog
    meta_log = (workspace / "packages" / "omnitenant" / "CHANGELOG.md").read_text()
    assert "## 0.1.1 (2026-01-02)\n\n- Pins `omnitenant-alpha==0.1.1`." in meta_log
    # The result is a consistent workspace: the pins now equal the members.
    assert release.verify_pins(workspace) == [
        "omnitenant-alpha==0.1.1",
        "omnitenant-beta==0.1.0",
        "omnitenant-gamma==0.1.0",
    ]


def test_minor_bump_widens_the_dependent_range_and_bumps_the_dependent(workspace: Path) -> None:
    _tag_all(workspace)
    _touch_alpha(workspace)

    plan = release.plan_release(workspace, "minor")
    beta = plan.bumps["omnitenant-beta"]
    assert beta.part == "patch"
    assert beta.rewrites == {"omnitenant-alpha>=0.1,<0.2": "omnitenant-alpha>=0.1,<0.3"}
    assert any("widened" in reason for reason in beta.reasons)
    assert "\n".join(plan.describe()).count("omnitenant-beta 0.1.0 -> 0.1.1") == 1

    release.apply_plan(plan, TODAY)

    assert _about(workspace, "omnitenant-alpha") == '__version__ = "0.2.0"\n'
    assert _about(workspace, "omnitenant-beta") == '__version__ = "0.1.1"\n'
    beta_toml = (workspace / "packages" / "omnitenant-beta" / "pyproject.toml").read_text()
    assert '"omnitenant-alpha>=0.1,<0.3"' in beta_toml
    assert '"Django>=5.2"' in beta_toml
    beta_log = (workspace / "packages" / "omnitenant-beta" / "CHANGELOG.md").read_text()
    assert "- Accept omnitenant-alpha 0.2.0: `omnitenant-alpha>=0.1,<0.3`." in beta_log
    meta = (workspace / "packages" / "omnitenant" / "pyproject.toml").read_text()
    # The meta-package moves by the largest part among its moved pins.
    assert 'version = "0.2.0"' in meta
    assert '"omnitenant-alpha==0.2.0"' in meta
    assert '"omnitenant-beta==0.1.1"' in meta
    assert '"omnitenant-gamma==0.1.0"' in meta


def test_without_tags_everything_changed_unless_since_is_given(workspace: Path) -> None:
    plan = release.plan_release(workspace, "patch")
    assert set(plan.bumps) == {
        "omnitenant-alpha",
        "omnitenant-beta",
        "omnitenant-gamma",
        "omnitenant",
    }
    assert plan.bumps["omnitenant-gamma"].subjects == ["Initial layout"]

    _touch_alpha(workspace)
    since = release.plan_release(workspace, "patch", since="HEAD~1")
    assert set(since.bumps) == {"omnitenant-alpha", "omnitenant"}


def test_nothing_changed_means_nothing_to_bump(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tag_all(workspace)
    assert release.plan_release(workspace, "patch").bumps == {}
    assert release.main(["bump"], root=workspace) == 0
    assert "nothing to bump" in capsys.readouterr().out


def test_dry_run_prints_the_plan_and_writes_nothing(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tag_all(workspace)
    _touch_alpha(workspace)

    assert release.main(["bump", "--part", "minor", "--dry-run"], root=workspace) == 0

    out = capsys.readouterr().out
    assert "omnitenant-alpha 0.1.0 -> 0.2.0 (minor)" in out
    assert "range widened to 'omnitenant-alpha>=0.1,<0.3'" in out
    assert _git(workspace, "status", "--porcelain") == ""


def test_bump_writes_and_prints_the_tags_to_create(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tag_all(workspace)
    _touch_alpha(workspace)

    assert release.main(["bump"], root=workspace) == 0

    out = capsys.readouterr().out
    assert "git tag omnitenant-alpha-v0.1.1" in out
    assert "git tag omnitenant-v0.1.1" in out
    changed = {line[3:] for line in _git(workspace, "status", "--porcelain").splitlines()}
    assert changed == {
        "packages/omnitenant-alpha/CHANGELOG.md",
        "packages/omnitenant-alpha/src/omnitenant_alpha/__about__.py",
        "packages/omnitenant/CHANGELOG.md",
        "packages/omnitenant/pyproject.toml",
    }


def test_drifted_pin_is_reported(workspace: Path) -> None:
    about = workspace / "packages" / "omnitenant-gamma" / "src" / "omnitenant_gamma"
    (about / "__about__.py").write_text('__version__ = "0.1.5"\n')
    with pytest.raises(release.ReleaseError, match=r"omnitenant-gamma==0.1.0.*is 0.1.5"):
        release.verify_pins(workspace)


def test_bad_reference_is_a_clear_error(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert release.main(["bump", "--since", "no-such-ref"], root=workspace) == 1
    assert "release bump failed: git log" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("version", "part", "expected"),
    [
        ("0.1.0", "patch", "0.1.1"),
        ("0.1.7", "minor", "0.2.0"),
        ("0.9.3", "major", "1.0.0"),
        ("1.4.2", "minor", "1.5.0"),
        ("2.0", "patch", "2.0.1"),
    ],
)
def test_bump_version(version: str, part: str, expected: str) -> None:
    from packaging.version import Version

    assert str(release.bump_version(Version(version), part)) == expected


@pytest.mark.parametrize(
    ("specifier", "version", "expected"),
    [
        (">=0.1,<0.2", "0.2.0", ">=0.1,<0.3"),
        (">=0.1,<0.2", "1.0.0", ">=0.1,<2"),
        (">=1.2,<2", "2.0.0", ">=1.2,<3"),
        ("<0.2", "0.2.0", "<0.3"),
    ],
)
def test_widen_specifier(specifier: str, version: str, expected: str) -> None:
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    requirement = Requirement(f"omnitenant-alpha{specifier}")
    requirement.specifier = release.widen_specifier(SpecifierSet(specifier), Version(version))
    assert release.format_requirement(requirement) == f"omnitenant-alpha{expected}"
