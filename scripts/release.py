"""The omnitenant release train: bump what changed, then prove the wheels install.

Run through hatch (``hatch run release:bump`` / ``hatch run release:check``) or directly::

    python scripts/release.py bump [--part patch|minor|major] [--since REF] [--dry-run]
    python scripts/release.py check

``bump`` finds the packages changed since their last release tag (``<name>-v<version>``),
bumps their ``__about__.py``, widens sibling ranges a bump would leave (and bumps those
dependents too), rewrites the meta-package's ``==`` pins, bumps its static version when a
pin moved, and writes a CHANGELOG entry for every bumped package. It never commits or
tags: it prints the tags to create once the result is committed.

``check`` builds every distribution, runs ``twine check --strict``, compares the pins with
the members, installs each wheel alone into a fresh virtual environment (siblings from
``dist/``, everything else from the package index) to prove its declared dependencies are
complete and no larger than intended, then installs the meta-package and runs a small
Django project on SQLite with one database tenant.

The functions are importable (the tests load this file with importlib) and take the
workspace root as a parameter, so they run on a temporary copy as well as on the real tree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import distributions
from pathlib import Path
from typing import Literal

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
META_PACKAGE = "omnitenant"
Part = Literal["patch", "minor", "major"]
PARTS: tuple[Part, ...] = ("patch", "minor", "major")

# What each distribution must never pull in, beyond what the closure of its declared
# dependencies says: the point of the split is that these stay out, so a dependency added
# by mistake (Django into the Celery package, say) fails the check rather than shipping.
MUST_NOT_PULL: Mapping[str, frozenset[str]] = {
    "omnitenant-context": frozenset({"django", "celery", "psycopg", "redis"}),
    "omnitenant-resolvers": frozenset({"django", "celery", "psycopg", "redis"}),
    "omnitenant-celery": frozenset({"django", "psycopg"}),
    "omnitenant-backends": frozenset({"celery"}),
    "omnitenant-django": frozenset({"celery"}),
}
# Packages whose import must not import Django (they are meant for non-Django processes).
DJANGO_FREE_IMPORTS = frozenset({"omnitenant-context", "omnitenant-resolvers", "omnitenant-celery"})


class ReleaseError(Exception):
    """A release step failed; the message says which and what to do."""


def say(message: str = "") -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


# --- the workspace ------------------------------------------------------------------


@dataclass
class Package:
    """One distribution under ``packages/``."""

    name: str
    directory: Path
    version: Version
    dependencies: list[str]
    # None for the meta-package, whose version is static in pyproject.toml.
    about_path: Path | None
    import_name: str | None

    @property
    def pyproject(self) -> Path:
        return self.directory / "pyproject.toml"

    @property
    def changelog(self) -> Path:
        return self.directory / "CHANGELOG.md"

    @property
    def is_meta(self) -> bool:
        return self.about_path is None


_ABOUT_VERSION = re.compile(r'^__version__\s*=\s*"([^"]+)"\s*$', re.MULTILINE)
_STATIC_VERSION = re.compile(r'^version\s*=\s*"([^"]+)"\s*$', re.MULTILINE)


def load_workspace(root: Path) -> dict[str, Package]:
    """Read every ``packages/*/pyproject.toml`` under ``root``, keyed by distribution name."""
    packages: dict[str, Package] = {}
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        project = data["project"]
        name = canonicalize_name(project["name"])
        version_path = data.get("tool", {}).get("hatch", {}).get("version", {}).get("path")
        if version_path is None:
            if "version" not in project:
                raise ReleaseError(f"{pyproject}: no static version and no [tool.hatch.version]")
            about_path, import_name = None, None
            version = Version(project["version"])
        else:
            about_path = pyproject.parent / version_path
            match = _ABOUT_VERSION.search(about_path.read_text(encoding="utf-8"))
            if match is None:
                raise ReleaseError(f'{about_path}: expected a line __version__ = "X.Y.Z"')
            version = Version(match.group(1))
            import_name = about_path.parent.name
        packages[name] = Package(
            name=name,
            directory=pyproject.parent,
            version=version,
            dependencies=list(project.get("dependencies", [])),
            about_path=about_path,
            import_name=import_name,
        )
    if META_PACKAGE not in packages:
        raise ReleaseError(f"{root / 'packages'}: the meta-package {META_PACKAGE!r} is missing")
    return packages


# --- git ----------------------------------------------------------------------------


def git(root: Path, *args: str) -> str:
    executable = shutil.which("git")
    if executable is None:
        raise ReleaseError("git is not on PATH; the release commands need it")
    result = subprocess.run(  # noqa: S603 - a fixed git argument list, no shell
        [executable, *args], cwd=root, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def last_release_tag(root: Path, name: str) -> str | None:
    """The newest ``<name>-v<version>`` tag reachable from HEAD, or None."""
    pattern = re.compile(rf"^{re.escape(name)}-v(.+)$")
    best: tuple[Version, str] | None = None
    for tag in git(root, "tag", "--merged", "HEAD", "--list", f"{name}-v*").split():
        match = pattern.match(tag)
        if match is None:
            continue
        # `omnitenant-v*` also lists no sibling tags, but a malformed version is skipped
        # rather than trusted.
        try:
            version = Version(match.group(1))
        except ValueError:
            continue
        if best is None or version > best[0]:
            best = (version, tag)
    return None if best is None else best[1]


def commit_subjects(root: Path, directory: Path, since: str | None) -> list[str]:
    """Subjects of the commits touching ``directory`` after ``since`` (all when None)."""
    revision = "HEAD" if since is None else f"{since}..HEAD"
    relative = directory.relative_to(root).as_posix()
    output = git(root, "log", "--format=%s", revision, "--", relative)
    return [line for line in output.splitlines() if line.strip()]


# --- versions and ranges ------------------------------------------------------------


def bump_version(version: Version, part: Part) -> Version:
    major, minor, micro = (*version.release, 0, 0)[:3]
    if part == "major":
        return Version(f"{major + 1}.0.0")
    if part == "minor":
        return Version(f"{major}.{minor + 1}.0")
    return Version(f"{major}.{minor}.{micro + 1}")


def compatible_upper_bound(version: Version) -> Version:
    """The first version that may break ``version``'s API: 0.y breaks on y, x.y on x."""
    major, minor = (*version.release, 0)[:2]
    if major == 0:
        return Version(f"0.{minor + 1}")
    return Version(f"{major + 1}")


def widen_specifier(specifier: SpecifierSet, version: Version) -> SpecifierSet:
    """Keep the lower bounds, move the upper bound to admit ``version``'s compatible line."""
    kept = [spec for spec in specifier if spec.operator not in ("<", "<=", "==", "~=")]
    bounds = [str(spec) for spec in kept] + [f"<{compatible_upper_bound(version)}"]
    return SpecifierSet(",".join(bounds))


def format_requirement(requirement: Requirement) -> str:
    # packaging sorts specifiers alphabetically (`<0.3,>=0.1`); the workspace writes the
    # lower bound first, so keep that order for a readable diff.
    specs = sorted(
        requirement.specifier, key=lambda spec: (spec.operator.startswith("<"), str(spec))
    )
    text = requirement.name
    if requirement.extras:
        text += "[" + ",".join(sorted(requirement.extras)) + "]"
    text += ",".join(str(spec) for spec in specs)
    if requirement.marker is not None:
        text += f"; {requirement.marker}"
    return text


# --- the plan -----------------------------------------------------------------------


@dataclass
class Bump:
    package: Package
    new_version: Version
    part: Part
    reasons: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    reference: str | None = None
    # old requirement string -> new requirement string in this package's pyproject.toml
    rewrites: dict[str, str] = field(default_factory=dict)
    changelog_notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    bumps: dict[str, Bump]
    unchanged: list[str]

    def describe(self) -> list[str]:
        lines = []
        for bump in self.bumps.values():
            package = bump.package
            lines.append(f"{package.name} {package.version} -> {bump.new_version} ({bump.part})")
            lines.extend(f"    {reason}" for reason in bump.reasons)
            lines.extend(f"    {old!r} -> {new!r}" for old, new in bump.rewrites.items())
        if self.unchanged:
            lines.append("unchanged: " + ", ".join(self.unchanged))
        return lines


def _larger(first: Part, second: Part) -> Part:
    return first if PARTS.index(first) >= PARTS.index(second) else second


def plan_release(root: Path, part: Part = "patch", since: str | None = None) -> Plan:
    """Work out every bump, range widening and pin rewrite, without writing anything."""
    packages = load_workspace(root)
    members = {name: pkg for name, pkg in packages.items() if not pkg.is_meta}
    bumps = _changed_members(root, members, part, since)
    _widen_ranges(members, bumps)
    meta_bump = _repin_meta(packages[META_PACKAGE], members, bumps)
    if meta_bump is not None:
        bumps[META_PACKAGE] = meta_bump
    unchanged = sorted(name for name in packages if name not in bumps)
    return Plan(bumps=bumps, unchanged=unchanged)


def _changed_members(
    root: Path, members: Mapping[str, Package], part: Part, since: str | None
) -> dict[str, Bump]:
    bumps: dict[str, Bump] = {}
    for name, package in members.items():
        tag = last_release_tag(root, name)
        reference = tag if tag is not None else since
        subjects = commit_subjects(root, package.directory, reference)
        if reference is not None and not subjects:
            continue
        bump = Bump(package, bump_version(package.version, part), part, subjects=subjects)
        bump.reference = reference
        if reference is None:
            bump.reasons.append("no release tag and no --since: treated as changed")
        else:
            bump.reasons.append(f"{len(subjects)} commit(s) since {reference}")
        bumps[name] = bump
    return bumps


def _widen_ranges(members: Mapping[str, Package], bumps: dict[str, Bump]) -> None:
    """Widen every sibling range a bump leaves, bumping the dependent (in place).

    The dependent gets a patch: its own API did not change. Repeated until nothing moves,
    although a patch never leaves a compatible range today.
    """
    changed = True
    while changed:
        changed = False
        for name, package in members.items():
            for text in package.dependencies:
                requirement = Requirement(text)
                target = bumps.get(canonicalize_name(requirement.name))
                current = bumps.get(name)
                if (
                    target is None
                    or requirement.specifier.contains(target.new_version, prereleases=True)
                    or (current is not None and text in current.rewrites)
                ):
                    continue
                widened = Requirement(text)
                widened.specifier = widen_specifier(requirement.specifier, target.new_version)
                new_text = format_requirement(widened)
                if current is None:
                    current = Bump(package, bump_version(package.version, "patch"), "patch")
                    bumps[name] = current
                current.rewrites[text] = new_text
                current.reasons.append(
                    f"{requirement.name} {target.new_version} is outside {text!r}: "
                    f"range widened to {new_text!r}"
                )
                current.changelog_notes.append(
                    f"Accept {requirement.name} {target.new_version}: `{new_text}`."
                )
                changed = True


def _repin_meta(
    meta: Package, members: Mapping[str, Package], bumps: Mapping[str, Bump]
) -> Bump | None:
    """Every pin follows its member; a moved pin bumps the meta-package by the largest part."""
    meta_part: Part | None = None
    rewrites: dict[str, str] = {}
    for text in meta.dependencies:
        requirement = Requirement(text)
        member_name = canonicalize_name(requirement.name)
        member = members.get(member_name)
        if member is None:
            raise ReleaseError(f"{meta.pyproject}: pins {requirement.name}, not a workspace member")
        bump = bumps.get(member_name)
        pinned = Requirement(text)
        pinned.specifier = SpecifierSet(f"=={bump.new_version if bump else member.version}")
        new_text = format_requirement(pinned)
        if new_text != text:
            rewrites[text] = new_text
            meta_part = _larger(meta_part or "patch", bump.part if bump else "patch")
    if meta_part is None:
        return None
    reasons = [f"{len(rewrites)} pin(s) follow their members"]
    meta_bump = Bump(meta, bump_version(meta.version, meta_part), meta_part, reasons)
    meta_bump.rewrites = rewrites
    meta_bump.changelog_notes = [f"Pins `{new}`." for new in rewrites.values()]
    return meta_bump


# --- writing the plan ---------------------------------------------------------------


def _replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    count = text.count(old)
    if count != 1:
        raise ReleaseError(f"{path}: expected {old!r} exactly once, found it {count} times")
    path.write_text(text.replace(old, new), encoding="utf-8")


def changelog_entry(bump: Bump, today: dt.date) -> str:
    lines = [f"## {bump.new_version} ({today.isoformat()})", ""]
    items = [*bump.changelog_notes, *bump.subjects]
    lines.extend(f"- {item}" for item in items or ["No changes of its own."])
    return "\n".join(lines) + "\n\n"


def add_changelog_entry(path: Path, entry: str) -> None:
    """Insert ``entry`` above the newest version heading (or at the end if there is none)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    match = re.search(r"^## ", text, re.MULTILINE)
    if match is None:
        text = text.rstrip("\n") + ("\n\n" if text else "") + entry
    else:
        text = text[: match.start()] + entry + text[match.start() :]
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def apply_plan(plan: Plan, today: dt.date | None = None) -> None:
    today = today or dt.datetime.now(tz=dt.UTC).date()
    for bump in plan.bumps.values():
        package = bump.package
        if package.about_path is not None:
            _replace_once(
                package.about_path,
                f'__version__ = "{package.version}"',
                f'__version__ = "{bump.new_version}"',
            )
        else:
            _replace_once(
                package.pyproject,
                f'version = "{package.version}"',
                f'version = "{bump.new_version}"',
            )
        for old, new in bump.rewrites.items():
            _replace_once(package.pyproject, f'"{old}"', f'"{new}"')
        add_changelog_entry(package.changelog, changelog_entry(bump, today))


def command_bump(root: Path, part: Part, since: str | None, dry_run: bool) -> int:
    plan = plan_release(root, part, since)
    if not plan.bumps:
        say("Nothing changed since the last release tags; nothing to bump.")
        return 0
    say("Plan (dry run, nothing written):" if dry_run else "Bumped:")
    for line in plan.describe():
        say("  " + line)
    if dry_run:
        return 0
    apply_plan(plan)
    say("Wrote __about__.py / pyproject.toml versions, pins, ranges and CHANGELOG entries.")
    say("After committing, tag the release:")
    for bump in plan.bumps.values():
        say(f"  git tag {bump.package.name}-v{bump.new_version}")
    return 0


# --- the check ----------------------------------------------------------------------


def run(
    command: Sequence[str | Path],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    what: str,
) -> str:
    """Run ``command``; on failure raise a ReleaseError with its output's tail."""
    result = subprocess.run(  # noqa: S603 - argument lists built here, never a shell
        [str(part) for part in command],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        tail = "\n".join("    " + line for line in output[-40:])
        raise ReleaseError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result.stdout


def find_hatch(root: Path) -> Path:
    """The hatch that drives this workspace: $OMNITENANT_HATCH, ./dev's pinned one, or PATH."""
    candidates: list[str | Path | None] = [
        os.environ.get("OMNITENANT_HATCH"),
        root / ".tools" / "bin" / "hatch",
        shutil.which("hatch"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise ReleaseError("No hatch found: run through ./dev, or set OMNITENANT_HATCH.")


def clean_environ() -> dict[str, str]:
    """This process's environment without the active hatch env leaking into children."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "HATCH_ENV_ACTIVE")
    }
    environ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return environ


@dataclass
class Timer:
    steps: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        say(f"==> {name}")
        yield
        self.steps.append((name, time.perf_counter() - start))


def build_all(root: Path) -> dict[str, Path]:
    """Build every member into a clean ``dist/``; return wheel path by distribution name."""
    dist = root / "dist"
    if dist.exists():
        shutil.rmtree(dist)
    run(
        [find_hatch(root), "build", "--all"],
        cwd=root,
        env=clean_environ(),
        what="hatch build --all",
    )
    wheels: dict[str, Path] = {}
    for wheel in sorted(dist.glob("*.whl")):
        name = parse_wheel_filename(wheel.name)[0]
        wheels[str(name)] = wheel
    return wheels


def verify_artifacts(root: Path, wheels: Mapping[str, Path]) -> None:
    """One wheel and one sdist per package, each at the version in the source tree."""
    packages = load_workspace(root)
    dist = root / "dist"
    problems = []
    for name, package in packages.items():
        wheel = wheels.get(name)
        if wheel is None:
            problems.append(f"no wheel for {name}")
            continue
        built = parse_wheel_filename(wheel.name)[1]
        if built != package.version:
            problems.append(f"{wheel.name} is {built}, the source says {package.version}")
        sdist = dist / f"{name.replace('-', '_')}-{package.version}.tar.gz"
        if not sdist.is_file():
            problems.append(f"no sdist {sdist.name}")
    extra = set(wheels) - set(packages)
    if extra:
        problems.append(f"unexpected wheels: {sorted(extra)}")
    if problems:
        raise ReleaseError("dist/ does not match the workspace: " + "; ".join(problems))


def verify_pins(root: Path) -> list[str]:
    """The meta-package pins every member ``==`` its current version, and nothing else."""
    packages = load_workspace(root)
    meta = packages[META_PACKAGE]
    members = {name for name, pkg in packages.items() if not pkg.is_meta}
    pinned: dict[str, str] = {}
    problems = []
    for text in meta.dependencies:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        specs = list(requirement.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            problems.append(f"{text!r} is not an exact == pin")
            continue
        pinned[name] = specs[0].version
        if name in packages and Version(specs[0].version) != packages[name].version:
            problems.append(f"{text!r} but {name} is {packages[name].version}")
    missing = members - set(pinned)
    if missing:
        problems.append(f"not pinned: {sorted(missing)}")
    if problems:
        raise ReleaseError(
            f"{meta.pyproject}: pins disagree with the members ({'; '.join(problems)}). "
            "Run `hatch run release:bump` or fix the pins by hand."
        )
    return [f"{name}=={version}" for name, version in sorted(pinned.items())]


@dataclass
class Venv:
    """A fresh virtual environment without pip of its own.

    ``ensurepip`` costs about 25 s per environment on a small machine; this process's pip
    drives the environment instead (``pip --python``), which leaves the environment
    holding exactly what the install put there.
    """

    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def pip(self, *arguments: str | Path) -> list[str | Path]:
        return [sys.executable, "-m", "pip", "--python", self.python, *arguments]

    def installed(self, environ: Mapping[str, str]) -> dict[str, str]:
        listing = run(
            self.pip("list", "--format", "json"),
            cwd=self.path,
            env=environ,
            what="pip list",
        )
        return {
            str(canonicalize_name(entry["name"])): entry["version"] for entry in json.loads(listing)
        }

    def site_packages(self) -> Path:
        found = sorted(self.path.glob("lib/python*/site-packages"))
        if len(found) != 1:
            raise ReleaseError(f"{self.path}: expected one site-packages, found {found}")
        return found[0]


def make_venv(path: Path, environ: Mapping[str, str]) -> Venv:
    run(
        [sys.executable, "-m", "venv", "--without-pip", path],
        cwd=path.parent,
        env=environ,
        what="python -m venv",
    )
    return Venv(path)


def dependency_closure(site_packages: Path, root_name: str) -> set[str]:
    """Every distribution ``root_name``'s declared requirements pull in, transitively.

    Read from the installed metadata, with markers evaluated for this interpreter (the
    virtual environments run the same one) and no extras requested beyond those named.
    """
    metadata = {
        str(canonicalize_name(dist.metadata["Name"])): dist
        for dist in distributions(path=[str(site_packages)])
    }
    seen: set[str] = set()
    visited: set[tuple[str, frozenset[str]]] = set()
    pending: list[tuple[str, frozenset[str]]] = [(str(canonicalize_name(root_name)), frozenset())]
    while pending:
        name, extras = pending.pop()
        # A name comes back when another requirement asks for more of its extras.
        if (name, extras) in visited:
            continue
        visited.add((name, extras))
        seen.add(name)
        dist = metadata.get(name)
        if dist is None:
            raise ReleaseError(f"{name} is required but not installed in {site_packages}")
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not any(
                # evaluate() fills in this interpreter's environment around "extra".
                requirement.marker.evaluate({"extra": extra})
                for extra in (extras or {""})
            ):
                continue
            pending.append(
                (str(canonicalize_name(requirement.name)), frozenset(requirement.extras))
            )
    return seen


@dataclass
class InstallReport:
    name: str
    added: dict[str, str]
    seconds: float


def check_wheel_alone(
    package: Package, wheel: Path, dist: Path, workdir: Path, versions: Mapping[str, Version]
) -> InstallReport:
    """Install ``wheel`` alone; its closure, and only that, must arrive; it must import."""
    start = time.perf_counter()
    environ = clean_environ()
    venv = make_venv(workdir / "venv", environ)
    before = venv.installed(environ)
    run(
        # --no-compile: byte-compiling Django dominates the install time, and the imports
        # below compile what they touch anyway.
        venv.pip("install", "--quiet", "--no-compile", wheel, "--find-links", dist),
        cwd=workdir,
        env=environ,
        what=f"pip install {wheel.name}",
    )
    after = venv.installed(environ)
    added = {name: version for name, version in after.items() if name not in before}
    expected = dependency_closure(venv.site_packages(), package.name) - set(before)
    problems = []
    if set(added) != expected:
        extra, missing = sorted(set(added) - expected), sorted(expected - set(added))
        problems.append(f"installed beyond its dependencies: {extra}; missing: {missing}")
    forbidden = sorted(MUST_NOT_PULL.get(package.name, frozenset()) & set(added))
    if forbidden:
        problems.append(f"pulled in {forbidden}, which it must not depend on")
    for name, version in added.items():
        # A sibling must come from dist/ (this build), never from an index.
        if name in versions and Version(version) != versions[name]:
            problems.append(f"{name} {version} installed, dist/ has {versions[name]}")
    probe = f"import sys, {package.import_name} as m; print(m.__version__)"
    if package.name in DJANGO_FREE_IMPORTS:
        probe += "; assert 'django' not in sys.modules, 'importing it imported Django'"
    imported = run(
        [venv.python, "-c", probe], cwd=workdir, env=environ, what=f"import {package.import_name}"
    )
    if Version(imported.strip()) != package.version:
        problems.append(f"imports as version {imported.strip()}, expected {package.version}")
    if problems:
        raise ReleaseError(f"{wheel.name}: " + "; ".join(problems))
    return InstallReport(package.name, added, time.perf_counter() - start)


SMOKE_FILES: Mapping[str, str] = {
    "manage.py": """
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smoke_settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
    """,
    "smoke_settings.py": """
        from pathlib import Path

        BASE_DIR = Path(__file__).resolve().parent
        SECRET_KEY = "release-smoke-test-only"
        USE_TZ = True
        INSTALLED_APPS = [
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django_omnitenant",
            "customers",
            "notes",
        ]
        DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": BASE_DIR / "master.sqlite3",
            }
        }
        DATABASE_ROUTERS = ["django_omnitenant.routers.TenantRouter"]
        DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
        OMNITENANT_CONFIG = {
            "TENANT_MODEL": "customers.Tenant",
            "DOMAIN_MODEL": "customers.Domain",
            "PUBLIC_HOST": "localhost",
            "MASTER_APPS": ["customers"],
            "TENANT_APPS": ["notes"],
            "SHARED_APPS": ["contenttypes", "auth", "django_omnitenant"],
            "SQLITE_DIRECTORY": BASE_DIR / "tenants",
        }
    """,
    "customers/__init__.py": "",
    "customers/models.py": """
        from django_omnitenant.models import BaseDomain, BaseTenant


        class Tenant(BaseTenant):
            pass


        class Domain(BaseDomain):
            pass
    """,
    "notes/__init__.py": "",
    "notes/models.py": """
        from django.db import models


        class Note(models.Model):
            text = models.CharField(max_length=200)
    """,
    "smoke.py": """
        import os
        import sqlite3

        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smoke_settings")
        django.setup()

        from customers.models import Domain, Tenant
        from django.conf import settings
        from notes.models import Note

        from django_omnitenant.tenant_context import TenantContext
        from django_omnitenant.utils import get_tenant_backend

        tenant = Tenant.objects.create(tenant_id="acme", name="ACME", isolation_type="database")
        get_tenant_backend(tenant).create(run_migrations=True)
        Domain.objects.create(tenant=tenant, domain="acme.localhost", is_primary=True)
        with TenantContext.use_tenant(tenant):
            Note.objects.create(text="Ship the anvils")
            texts = list(Note.objects.values_list("text", flat=True))
        assert texts == ["Ship the anvils"], texts
        # The row must live in the tenant's own SQLite file, not in the master database.
        tenant_file = settings.OMNITENANT_CONFIG["SQLITE_DIRECTORY"] / "acme.sqlite3"
        with sqlite3.connect(tenant_file) as connection:
            rows = connection.execute("SELECT text FROM notes_note").fetchall()
        assert rows == [("Ship the anvils",)], rows
        with sqlite3.connect(settings.DATABASES["default"]["NAME"]) as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        assert "notes_note" not in tables, "the tenant table leaked into the master database"
        print(f"tenant acme: database {tenant_file.name}, note read back: {texts[0]}")
    """,
}


def check_meta_package(
    wheel: Path, dist: Path, workdir: Path, versions: Mapping[str, Version]
) -> tuple[InstallReport, list[str]]:
    """Install the meta-package, then run a tiny Django project with one database tenant."""
    start = time.perf_counter()
    environ = clean_environ()
    venv = make_venv(workdir / "venv", environ)
    before = venv.installed(environ)
    run(
        # --no-compile: byte-compiling Django dominates the install time, and the imports
        # below compile what they touch anyway.
        venv.pip("install", "--quiet", "--no-compile", wheel, "--find-links", dist),
        cwd=workdir,
        env=environ,
        what=f"pip install {wheel.name}",
    )
    added = {name: v for name, v in venv.installed(environ).items() if name not in before}
    wrong = {
        name: added.get(name)
        for name, version in versions.items()
        if added.get(name) != str(version)
    }
    if wrong:
        raise ReleaseError(f"{wheel.name}: members installed at the wrong versions: {wrong}")

    project = workdir / "project"
    for relative, source in SMOKE_FILES.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    (project / "tenants").mkdir()
    output: list[str] = []
    steps: list[tuple[str, list[str]]] = [
        ("manage.py makemigrations", ["manage.py", "makemigrations", "customers", "notes"]),
        ("manage.py check", ["manage.py", "check"]),
        ("manage.py migrate", ["manage.py", "migrate"]),
        ("the tenant smoke test", ["smoke.py"]),
    ]
    for what, arguments in steps:
        result = run([venv.python, *arguments], cwd=project, env=environ, what=what)
        if what in ("manage.py check", "the tenant smoke test"):
            output.extend(line for line in result.splitlines() if line.strip())
    return InstallReport(META_PACKAGE, added, time.perf_counter() - start), output


def _describe_install(report: InstallReport) -> str:
    listed = ", ".join(f"{name} {version}" for name, version in sorted(report.added.items()))
    return f"{report.name}: {len(report.added)} distributions ({report.seconds:.1f}s): {listed}"


def command_check(root: Path) -> int:
    timer = Timer()
    started = time.perf_counter()
    dist = root / "dist"
    with timer.step("hatch build --all (clean dist/)"):
        wheels = build_all(root)
        verify_artifacts(root, wheels)
        say(
            f"    {len(list(dist.iterdir()))} files: "
            + ", ".join(sorted(p.name for p in dist.iterdir()))
        )
    with timer.step("twine check --strict dist/*"):
        artifacts = sorted(str(path) for path in dist.iterdir())
        run(
            [sys.executable, "-m", "twine", "check", "--strict", *artifacts],
            cwd=root,
            what="twine check",
        )
        say(f"    {len(artifacts)} artifacts passed")
    with timer.step("meta-package pins"):
        say("    " + ", ".join(verify_pins(root)))
    packages = load_workspace(root)
    versions = {name: pkg.version for name, pkg in packages.items() if not pkg.is_meta}
    with tempfile.TemporaryDirectory(prefix="omnitenant-release-") as temp:
        workdirs = {name: Path(temp) / name for name in packages}
        for path in workdirs.values():
            path.mkdir()
        with timer.step("install each wheel alone, and the meta-package with a Django smoke test"):
            # The six installs are independent and wait on the network much of the time:
            # three at once (more only queues on a small machine's CPUs), reported in a
            # fixed order afterwards.
            with ThreadPoolExecutor(max_workers=3) as pool:
                member_jobs = {
                    name: pool.submit(
                        check_wheel_alone, pkg, wheels[name], dist, workdirs[name], versions
                    )
                    for name, pkg in packages.items()
                    if not pkg.is_meta
                }
                meta_job = pool.submit(
                    check_meta_package, wheels[META_PACKAGE], dist, workdirs[META_PACKAGE], versions
                )
                failures = []
                for name, job in member_jobs.items():
                    error = job.exception()
                    if error is None:
                        say("    " + _describe_install(job.result()))
                    else:
                        failures.append(f"{name}: {error}")
                meta_error = meta_job.exception()
                if meta_error is None:
                    report, smoke_output = meta_job.result()
                    say("    " + _describe_install(report))
                    say("    Django smoke test: " + " | ".join(smoke_output))
                else:
                    failures.append(f"{META_PACKAGE}: {meta_error}")
            if failures:
                raise ReleaseError("\n".join(failures))
        # Leaving the with-block removes six environments; timed so it is not a mystery.
        cleanup_start = time.perf_counter()
    timer.steps.append(("remove the temporary environments", time.perf_counter() - cleanup_start))
    say("")
    say("Timings:")
    for name, seconds in timer.steps:
        say(f"  {seconds:6.1f}s  {name}")
    say(f"  {time.perf_counter() - started:6.1f}s  total")
    say("release check passed")
    return 0


# --- command line -------------------------------------------------------------------


def parse_args(argv: Iterable[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="release", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    bump = commands.add_parser("bump", help="bump the packages changed since their last tag")
    bump.add_argument("--part", choices=PARTS, default="patch")
    bump.add_argument("--since", help="git reference to compare with when a package has no tag")
    bump.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    commands.add_parser("check", help="build, twine check, install each wheel, smoke test")
    return parser.parse_args(list(argv))


def main(argv: Iterable[str] | None = None, root: Path = ROOT) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "bump":
            return command_bump(root, args.part, args.since, args.dry_run)
        return command_check(root)
    except ReleaseError as error:
        sys.stderr.write(f"release {args.command} failed: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
