"""Every code sample in ``docs/*.md`` runs here.

How each fenced block is treated, by its info string:

``python``
    Executed, in order, in one namespace per page (like a doctest session), inside the
    test project (``tests.settings``, PostgreSQL master database). Before the first
    block the namespace holds two freshly created tenants, ``acme`` (a schema tenant)
    and ``globex`` (a database tenant on SQLite), and the test project's models
    ``Tenant``, ``Domain`` (master) and ``Notebook``, ``Note`` (tenant-scoped). Blocks
    import everything else themselves. Celery apps made by a block are given the
    in-memory broker (``CELERY_BROKER_URL``) and uninstalled after the page.
``python settings``
    A ``settings.py`` excerpt: executed in a fresh namespace (``...`` placeholders are
    plain Python), then checked: every ``OMNITENANT_CONFIG`` key is one the packages
    declare (``known_settings()``), and every dotted path it names (middleware, routers,
    database engines, cache backends, the resolver) imports.
``python models``
    A ``models.py`` excerpt: executed as a module of the test app inside an isolated app
    registry, so Django's model metaclass checks the classes without registering them.
``console``
    Not executed. Each ``manage.py <command> ...`` line (``\\`` continuations joined,
    ``#`` comments dropped) must name an existing command, and the command's own parser
    (``create_parser``) must accept the options; ``tenantcommand``'s inner command is
    checked the same way.
``text``
    Output or layout shown for reading; not checked.

Any other info string fails the test, so no sample escapes by accident. A failure names
the page and the line of the block.
"""

from __future__ import annotations

import re
import shlex
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from django.core.management import get_commands, load_command_class
from django.test import override_settings
from django.test.utils import isolate_apps
from django.utils.module_loading import import_string

pytestmark = pytest.mark.postgres

DOCS = Path(__file__).resolve().parents[2] / "docs"
KINDS = frozenset({"python", "python settings", "python models", "console", "text"})
_FENCE = re.compile(r"^(?P<fence>```+)(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    info: str
    code: str

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def read_blocks(path: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index].strip())
        if match is None:
            index += 1
            continue
        start, fence = index, match["fence"]
        body: list[str] = []
        index += 1
        while index < len(lines) and lines[index].strip() != fence:
            body.append(lines[index])
            index += 1
        if index == len(lines):
            raise AssertionError(f"docs/{path.name}:{start + 1}: the code block is never closed")
        blocks.append(Block(path.name, start + 1, match["info"].strip(), "\n".join(body) + "\n"))
        index += 1
    return blocks


PAGES = sorted(DOCS.glob("*.md"))
ALL_BLOCKS = [block for page in PAGES for block in read_blocks(page)]


def _blocks(info: str) -> list[Block]:
    return [block for block in ALL_BLOCKS if block.info == info]


def _ids(blocks: list[Block]) -> list[str]:
    return [block.where for block in blocks]


def test_every_block_has_a_known_kind() -> None:
    unknown = [f"{b.where}: ```{b.info}" for b in ALL_BLOCKS if b.info not in KINDS]
    assert not unknown, "code blocks with an unknown info string: " + ", ".join(unknown)


def test_the_docs_have_samples() -> None:
    assert PAGES, f"no pages in {DOCS}"
    assert _blocks("python"), "no python samples found"


# -- python blocks: executed per page, in order ----------------------------------------


def _run(block: Block, namespace: dict[str, Any]) -> None:
    try:
        code = compile(block.code, block.where, "exec")
        exec(code, namespace)  # noqa: S102 - running the documented samples is the point
    except Exception:
        pytest.fail(
            f"the sample at {block.where} failed:\n{block.code}\n{traceback.format_exc()}",
            pytrace=False,
        )


def _cleanup_celery(namespace: dict[str, Any]) -> None:
    try:
        from celery import Celery

        from omnitenant_celery import uninstall
    except ImportError:  # pragma: no cover - the test envs have celery
        return
    for value in namespace.values():
        if isinstance(value, Celery):
            uninstall(value)


PYTHON_PAGES = sorted({block.page for block in _blocks("python")})


@pytest.fixture
def own_sqlite_directory(tmp_path: Path) -> Iterator[None]:
    """SQLite tenant files of this test in a directory of its own (runs may overlap)."""
    from django.conf import settings

    config = {**settings.OMNITENANT_CONFIG, "SQLITE_DIRECTORY": str(tmp_path)}
    with override_settings(OMNITENANT_CONFIG=config):
        yield


@pytest.fixture
def doc_namespace(
    own_sqlite_directory: None, tenant_factory: Callable[..., Any]
) -> Iterator[dict[str, Any]]:
    from celery._state import get_current_app

    from tests.tenantapp.models import Note, Notebook
    from tests.testapp.models import Domain, Tenant

    acme = tenant_factory("acme", name="ACME Corporation")
    Domain.objects.create(tenant=acme, domain="acme.example.test", is_primary=True)
    globex = tenant_factory("globex", "database", name="Globex")
    namespace: dict[str, Any] = {
        "__name__": "docs_sample",
        "acme": acme,
        "globex": globex,
        "Tenant": Tenant,
        "Domain": Domain,
        "Notebook": Notebook,
        "Note": Note,
    }
    previous_app = get_current_app()
    # The docs write the tenant-scoped app as a user's would be, `notes`: its imports
    # run for real against the test project's tenant app.
    import tests.tenantapp
    import tests.tenantapp.models

    aliases = {"notes": tests.tenantapp, "notes.models": tests.tenantapp.models}
    try:
        with (
            override_settings(CELERY_BROKER_URL="memory://", CELERY_RESULT_BACKEND=None),
            patch.dict(sys.modules, aliases),
        ):
            yield namespace
    finally:
        _cleanup_celery(namespace)
        previous_app.set_current()
        from django_omnitenant.stores import get_tenant_store

        get_tenant_store().invalidate()


@pytest.mark.parametrize("page", PYTHON_PAGES)
def test_python_samples_run(page: str, doc_namespace: dict[str, Any]) -> None:
    for block in _blocks("python"):
        if block.page == page:
            _run(block, doc_namespace)


# -- settings blocks --------------------------------------------------------------------


def _dotted_paths(settings: dict[str, Any]) -> Iterator[str]:
    yield from settings.get("MIDDLEWARE", [])
    yield from settings.get("DATABASE_ROUTERS", [])
    for cache in settings.get("CACHES", {}).values():
        yield cache["BACKEND"]
    resolver = settings.get("OMNITENANT_CONFIG", {}).get("TENANT_RESOLVER")
    if resolver:
        yield resolver


@pytest.mark.parametrize("block", _blocks("python settings"), ids=_ids(_blocks("python settings")))
def test_settings_samples(block: Block) -> None:
    import django_omnitenant.conf  # noqa: F401 - declares the Django app's keys
    from omnitenant_backends.config import known_settings

    namespace: dict[str, Any] = {"__name__": "settings"}
    _run(block, namespace)
    names = [name for name in namespace if name.isupper()]
    assert names, f"{block.where}: a settings sample defines no setting"
    config = namespace.get("OMNITENANT_CONFIG", {})
    unknown = sorted(set(config) - set(known_settings()))
    assert not unknown, f"{block.where}: unknown OMNITENANT_CONFIG keys {unknown}"
    for path in _dotted_paths(namespace):
        if isinstance(path, str):
            try:
                import_string(path)
            except ImportError as exc:
                pytest.fail(f"{block.where}: {path!r} does not import: {exc}", pytrace=False)
    for database in namespace.get("DATABASES", {}).values():
        engine = database.get("ENGINE")
        if engine:
            import_string(f"{engine}.base.DatabaseWrapper")


# -- models blocks ------------------------------------------------------------------------


@pytest.mark.parametrize("block", _blocks("python models"), ids=_ids(_blocks("python models")))
def test_models_samples(block: Block) -> None:
    with isolate_apps("tests.testapp"):
        _run(block, {"__name__": "tests.testapp.docs_sample_models"})


# -- console blocks -----------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    where: str
    argv: list[str]


def manage_py_lines(block: Block) -> Iterator[Invocation]:
    joined: list[tuple[int, str]] = []
    pending = ""
    first = 0
    for offset, raw in enumerate(block.code.splitlines(), start=1):
        if not pending:
            first = offset
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append((first, pending + line))
        pending = ""
    for offset, line in joined:
        words = shlex.split(line, comments=True)
        if line.lstrip().startswith("$"):
            words = words[1:]
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            words = words[1:]  # VAR=value prefixes
        if words[:1] == ["python"]:
            words = words[1:]
        if words and words[0].endswith("manage.py"):
            yield Invocation(f"{block.where} (+{offset})", words[1:])


CONSOLE = [call for block in _blocks("console") for call in manage_py_lines(block)]


def check_command(where: str, argv: list[str]) -> None:
    assert argv, f"{where}: manage.py without a command"
    name, options = argv[0], argv[1:]
    commands = get_commands()
    assert name in commands, f"{where}: there is no management command {name!r}"
    command = load_command_class(commands[name], name)
    parser = command.create_parser("manage.py", name)
    try:
        parsed = parser.parse_args(options)
    except Exception as exc:  # CommandError, or SystemExit from argparse
        pytest.fail(f"{where}: manage.py {shlex.join(argv)} is refused: {exc}", pytrace=False)
    except SystemExit as exc:
        pytest.fail(f"{where}: manage.py {shlex.join(argv)} is refused: {exc}", pytrace=False)
    if name == "tenantcommand":
        check_command(where, [parsed.command_name, *parsed.command_args])


@pytest.mark.parametrize("call", CONSOLE, ids=[" ".join(c.argv) for c in CONSOLE])
def test_console_commands_parse(call: Invocation) -> None:
    check_command(call.where, call.argv)


def test_a_wrong_option_is_caught() -> None:
    with pytest.raises(pytest.fail.Exception):
        check_command("self-test", ["migratealltenants", "--no-such-option"])
    with pytest.raises(AssertionError):
        check_command("self-test", ["nosuchcommand"])
