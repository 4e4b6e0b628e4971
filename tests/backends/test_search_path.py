"""The PostgreSQL engine's ``search_path`` handling, judged by what reaches the server.

Statements are counted in libpq's own protocol trace (``PQtrace``): every message the
client library writes to the server's socket is logged there, whichever code path sent it
(Django's cursor wrappers, the engine's own raw cursor, psycopg's transaction handling), so
a ``SET`` sent around Django's wrappers is counted too. This server has no
``pg_stat_statements`` loaded (it needs ``shared_preload_libraries`` and a restart), and
the protocol trace counts exactly the statements the server receives, per connection.
Round trips are the ``Sync`` and simple ``Query`` messages: each is one wait for the
server. After counting, ``SHOW search_path`` checks that the path the server holds is the
right one.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from psycopg import pq, sql

from omnitenant_backends._sql import path_prefix
from omnitenant_backends.postgresql.base import DatabaseWrapper, PathServerBindingCursor
from omnitenant_context import InvalidIdentifier, Tenant, TenantContext
from tests.tenantapp.models import Note, Notebook

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(sys.platform != "linux", reason="psycopg's PQtrace needs Linux"),
]

TenantFactory = Callable[..., Any]

_MESSAGE = re.compile(r"^F\t\d+\t(?P<type>\w+)\t ?(?P<body>.*)$")
# What the engine puts in front of a statement in the same simple query.
_PATH_PREFIXES = (
    "SET search_path TO ",
    "SET LOCAL search_path TO ",
    "SET LOCAL transaction_read_only TO on; ",
)
_WAIT = re.compile(r"^F\t\d+\t(?:Sync|Query)\b", re.MULTILINE)
_QUOTED = re.compile(r'"(?P<text>(?:[^"]|"(?! ))*)"')


class WireTrace:
    """The statements libpq sends to the server on the connections it is attached to.

    libpq writes its trace through a C ``FILE`` opened on our file descriptor; its buffer
    is flushed before each read, and the descriptor closed only after tracing stopped.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / "libpq-trace.log"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._traced: list[psycopg.Connection[Any]] = []

    def attach(self, raw: psycopg.Connection[Any]) -> None:
        if any(raw is traced for traced in self._traced):
            return
        raw.pgconn.trace(self._fd)
        raw.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        self._traced.append(raw)

    def mark(self) -> int:
        """A position in the trace: :meth:`statements` can start from it."""
        _flush_c_streams()
        return self.path.stat().st_size

    def statements(self, since: int = 0) -> list[str]:
        """Each statement sent since ``since``: simple queries and executed portals."""
        _flush_c_streams()
        with self.path.open("rb") as trace:
            trace.seek(since)
            text = trace.read().decode("utf-8", "replace")
        prepared: dict[str, str] = {}
        portals: dict[str, str] = {}
        sent: list[str] = []
        for line in text.splitlines():
            match = _MESSAGE.match(line)
            if match is None:
                continue
            kind, body = match["type"], match["body"]
            quoted = [found["text"] for found in _QUOTED.finditer(body)]
            if kind == "Query":
                text = body.strip()[1:-1]
                while text.startswith(_PATH_PREFIXES) and "; " in text:
                    # The engine's path, sent in one message ahead of the statement.
                    path, _, text = text.partition("; ")
                    sent.append(path)
                sent.append(text)
            elif kind == "Parse" and len(quoted) >= 2:
                prepared[quoted[0]] = quoted[1]
            elif kind == "Bind" and len(quoted) >= 2:
                portals[quoted[0]] = prepared.get(quoted[1], "")
            elif kind == "Execute" and quoted:
                sent.append(portals.get(quoted[0], ""))
        return sent

    def sets(self, since: int = 0) -> list[str]:
        """The statements among :meth:`statements` that set ``search_path``."""
        return [statement for statement in self.statements(since) if is_path_statement(statement)]

    def round_trips(self, since: int = 0) -> int:
        """How many times the client waited for the server: ``Sync`` and ``Query`` messages."""
        _flush_c_streams()
        with self.path.open("rb") as trace:
            trace.seek(since)
            text = trace.read().decode("utf-8", "replace")
        return len(_WAIT.findall(text))

    def close(self) -> None:
        for raw in self._traced:
            if not raw.closed:
                raw.pgconn.untrace()
        _flush_c_streams()
        os.close(self._fd)


def is_path_statement(statement: str) -> bool:
    """Whether ``statement`` sets ``search_path`` (a ``SET`` or the engine's ``set_config``)."""
    text = statement.lstrip()
    return (
        text.upper().startswith(("SET SEARCH_PATH", "SET LOCAL SEARCH_PATH"))
        or "set_config('search_path'" in text
    )


def path_of(statement: str) -> str:
    """The schemas a path statement sets, as ``"a", "b"``."""
    match = re.search(r"set_config\('search_path', '(?P<path>[^']*)'", statement)
    if match is not None:
        return match["path"]
    return statement.split(" TO ", 1)[1]


def _flush_c_streams() -> None:
    # libpq buffers its trace in a C stdio stream; fflush(NULL) writes every such buffer.
    ctypes.CDLL(None).fflush(None)


@pytest.fixture
def wire(live_db: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireTrace]:
    """A protocol trace on the default connection, and on every connection it opens."""
    trace = WireTrace(tmp_path)
    wrapper = connections["default"]
    open_connection = wrapper.get_new_connection

    def traced_connection(conn_params: dict[str, Any]) -> Any:
        raw = open_connection(conn_params)
        trace.attach(raw)
        return raw

    monkeypatch.setattr(wrapper, "get_new_connection", traced_connection)
    wrapper.ensure_connection()
    trace.attach(wrapper.connection)
    try:
        yield trace
    finally:
        trace.close()


@pytest.fixture
def two_tenants(tenant_factory: TenantFactory) -> tuple[Tenant, Tenant]:
    """Two schema tenants, each holding one note that names it."""
    first = tenant_factory("path_alpha")
    second = tenant_factory("path_beta")
    for tenant in (first, second):
        with TenantContext.use_tenant(tenant):
            Note.objects.create(text=tenant.tenant_id)
    return first, second


def notes() -> list[str]:
    return list(Note.objects.values_list("text", flat=True))


def read_then_fail(expected: list[str]) -> None:
    """Read the current tenant's notes, then raise to roll the enclosing block back."""
    assert notes() == expected
    raise RuntimeError("roll the block back")


def server_search_path() -> str:
    """The server's ``search_path``, spelled the same whether a SET or the start-up
    option set it (the option leaves out the blank after the comma)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        row = cursor.fetchone()
    assert row is not None
    return ", ".join(part.strip().strip('"') for part in str(row[0]).split(","))


def test_queries_in_one_tenant_send_at_most_one_set(
    two_tenants: tuple[Tenant, Tenant], wire: WireTrace
) -> None:
    alpha, _beta = two_tenants
    since = wire.mark()
    with TenantContext.use_tenant(alpha):
        for _ in range(100):
            assert Note.objects.count() == 1
    sent = wire.statements(since)
    sets = wire.sets(since)
    assert len(sets) <= 1
    # The trace saw every query: 100 counts, plus the path if one was needed, which
    # shared the first count's round trip.
    assert len([statement for statement in sent if "COUNT(*)" in statement]) == 100
    assert len(sent) == 100 + len(sets)
    assert wire.round_trips(since) == 100
    with TenantContext.use_tenant(alpha):
        assert server_search_path() == "path_alpha"


def test_each_switch_between_tenants_costs_one_path_statement_and_no_round_trip(
    two_tenants: tuple[Tenant, Tenant], wire: WireTrace
) -> None:
    alpha, beta = two_tenants
    with TenantContext.use_tenant(alpha):
        assert notes() == ["path_alpha"]
    since = wire.mark()
    for tenant, expected in ((beta, "path_beta"), (alpha, "path_alpha"), (beta, "path_beta")):
        with TenantContext.use_tenant(tenant):
            for _ in range(5):
                assert notes() == [expected]
    # The tenant's schema alone (fail closed), once per switch, pipelined with the first
    # statement after it: 15 reads in 15 round trips.
    assert [path_of(statement) for statement in wire.sets(since)] == [
        '"path_beta"',
        '"path_alpha"',
        '"path_beta"',
    ]
    assert len(wire.statements(since)) == 15 + 3
    assert wire.round_trips(since) == 15


def test_fresh_connection_gets_its_path_at_startup_without_a_set(
    two_tenants: tuple[Tenant, Tenant], wire: WireTrace
) -> None:
    _alpha, beta = two_tenants
    connection.close()
    since = wire.mark()
    with TenantContext.use_tenant(beta):
        assert notes() == ["path_beta"]
        assert server_search_path() == "path_beta"
    assert wire.sets(since) == []
    # Nothing but the view's own two queries: the time zone travelled at start-up too.
    assert len(wire.statements(since)) == 2, wire.statements(since)


def test_savepoint_rollback_after_a_switch_keeps_the_outer_tenant(
    two_tenants: tuple[Tenant, Tenant], wire: WireTrace
) -> None:
    alpha, beta = two_tenants

    def write_in_beta_then_fail() -> None:
        with TenantContext.use_tenant(beta):
            Note.objects.create(text="rolled back")
            assert sorted(notes()) == ["path_beta", "rolled back"]
        raise RuntimeError("undo the inner block")

    with TenantContext.use_tenant(alpha), transaction.atomic():
        assert notes() == ["path_alpha"]
        with pytest.raises(RuntimeError), transaction.atomic():
            write_in_beta_then_fail()
        # The server undid the SET with the savepoint: the path is alpha's again.
        assert server_search_path() == "path_alpha"
        assert notes() == ["path_alpha"]
    with TenantContext.use_tenant(beta):
        assert notes() == ["path_beta"]
    assert wire.sets(), "the switch to beta inside the savepoint reached the server"


def test_savepoint_rollback_then_staying_in_the_inner_tenant(
    two_tenants: tuple[Tenant, Tenant], wire: WireTrace
) -> None:
    alpha, beta = two_tenants
    with TenantContext.use_tenant(alpha), transaction.atomic():
        assert notes() == ["path_alpha"]
        with TenantContext.use_tenant(beta):
            with pytest.raises(RuntimeError), transaction.atomic():
                read_then_fail(["path_beta"])  # SET to beta, after the savepoint
            # The server is back on alpha's path; the engine must not trust its memory.
            assert notes() == ["path_beta"]
            assert server_search_path() == "path_beta"
        assert notes() == ["path_alpha"]


def test_transaction_rollback_after_a_set_forgets_the_path(
    two_tenants: tuple[Tenant, Tenant], wire: WireTrace
) -> None:
    alpha, beta = two_tenants
    with TenantContext.use_tenant(alpha):
        assert notes() == ["path_alpha"]  # alpha's path set outside any transaction
    with pytest.raises(RuntimeError), transaction.atomic(), TenantContext.use_tenant(beta):
        read_then_fail(["path_beta"])  # the SET to beta is inside the transaction
    with TenantContext.use_tenant(beta):
        assert server_search_path() == "path_beta"
        assert notes() == ["path_beta"]
    with TenantContext.use_tenant(alpha):
        assert notes() == ["path_alpha"]


def test_failed_commit_forgets_the_path(
    two_tenants: tuple[Tenant, Tenant], wire: WireTrace
) -> None:
    alpha, beta = two_tenants
    with TenantContext.use_tenant(alpha):
        assert notes() == ["path_alpha"]  # alpha's path set outside any transaction
    transaction.set_autocommit(False)
    try:
        with TenantContext.use_tenant(beta):
            # The foreign key is deferred: the COMMIT fails, and the server rolls back
            # the whole transaction, the SET to beta included.
            Note.objects.create(notebook_id=10_000, text="dangling")
            with pytest.raises(IntegrityError):
                transaction.commit()
            assert server_search_path() == "path_beta"
            assert notes() == ["path_beta"]
    finally:
        transaction.rollback()
        transaction.set_autocommit(True)


def test_killed_connection_reconnects_into_the_right_tenant(
    two_tenants: tuple[Tenant, Tenant], wire: WireTrace
) -> None:
    alpha, beta = two_tenants
    with TenantContext.use_tenant(alpha):
        assert notes() == ["path_alpha"]
    assert connection.connection is not None
    pid = connection.connection.info.backend_pid
    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
        autocommit=True,
    ) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", [pid])

    with TenantContext.use_tenant(alpha), pytest.raises(OperationalError):
        notes()
    connection.close()
    since = wire.mark()
    with TenantContext.use_tenant(beta):
        assert notes() == ["path_beta"]
        assert server_search_path() == "path_beta"
        assert connection.connection.info.backend_pid != pid
    assert wire.sets(since) == []  # the new connection started in beta's path
    with TenantContext.use_tenant(alpha):
        assert notes() == ["path_alpha"]


def test_master_scope_and_explicit_schema_inside_a_tenant(
    two_tenants: tuple[Tenant, Tenant], wire: WireTrace
) -> None:
    alpha, beta = two_tenants
    with TenantContext.use_tenant(alpha):
        assert notes() == ["path_alpha"]
        with TenantContext.use_master_db():
            assert server_search_path() == "public"
        with TenantContext.use_schema("path_beta"):
            assert notes() == ["path_beta"]
        assert notes() == ["path_alpha"]
        assert server_search_path() == "path_alpha"
    with TenantContext.use_tenant(beta):
        assert Notebook.objects.count() == 0


def raw_search_path(raw: psycopg.Connection[Any]) -> str:
    """The server's ``search_path`` asked on the raw connection: no path rides along."""
    row = raw.execute("SHOW search_path").fetchone()
    assert row is not None
    return ", ".join(part.strip().strip('"') for part in str(row[0]).split(","))


def test_the_path_statement_quotes_schema_names_as_identifiers() -> None:
    # Identifiers in double quotes, never string literals; each SET ends with the
    # transaction when local.
    assert path_prefix(("path_alpha", "extensions"), local=False) == (
        'SET search_path TO "path_alpha", "extensions"'
    )
    assert path_prefix(("path_alpha",), local=True, read_only=True) == (
        'SET LOCAL transaction_read_only TO on; SET LOCAL search_path TO "path_alpha"'
    )
    with pytest.raises(InvalidIdentifier):
        path_prefix(('alpha"; DROP SCHEMA public; --',), local=False)


def test_every_parameter_style_reads_the_tenant_it_switched_to(
    two_tenants: tuple[Tenant, Tenant],
) -> None:
    """The path's ``SET`` goes in front of the statement's text whatever its parameters:
    positional, named or none. Each reads the new tenant, and ``%`` keeps its meaning in
    each (doubled where psycopg merges parameters, literal where it does not)."""
    table = connection.ops.quote_name(Note._meta.db_table)
    merged = f"SELECT text || %s || '%%' FROM {table}"  # noqa: S608 - the model's quoted name
    named = f"SELECT text || %(sep)s || '%%' FROM {table}"  # noqa: S608 - the model's quoted name
    unmerged = f"SELECT text || '/%' FROM {table}"  # noqa: S608 - the model's quoted name
    styles: list[tuple[str, Any]] = [
        (merged, ["/"]),
        (merged, ("/",)),
        (named, {"sep": "/"}),
        (unmerged, None),
    ]
    for query, params in styles:
        for tenant in two_tenants:  # each statement is the first after a switch
            with TenantContext.use_tenant(tenant), connection.cursor() as cursor:
                cursor.execute(query, params)
                assert cursor.fetchall() == [(f"{tenant.tenant_id}/%",)]
                assert raw_search_path(connection.connection) == tenant.tenant_id


def test_a_failing_statement_takes_its_path_change_back(
    two_tenants: tuple[Tenant, Tenant], wire: WireTrace
) -> None:
    alpha, beta = two_tenants
    with TenantContext.use_tenant(alpha):
        assert notes() == ["path_alpha"]
    with TenantContext.use_tenant(beta), pytest.raises(DatabaseError):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")  # SET to beta and this: one implicit transaction
    assert wire.sets(), "the switch to beta reached the server"
    # The server undid the SET with the failed statement, and the engine does not
    # believe it happened.
    assert raw_search_path(connection.connection) == "path_alpha"
    assert getattr(connection, "omnitenant_search_path", "missing") is None
    with TenantContext.use_tenant(beta):
        assert notes() == ["path_beta"]
    with TenantContext.use_tenant(alpha):
        assert notes() == ["path_alpha"]


def test_server_side_binding_sends_the_path_in_the_statements_pipeline(
    two_tenants: tuple[Tenant, Tenant], tmp_path: Path
) -> None:
    alpha, beta = two_tenants
    entry = {**connections["default"].settings_dict, "OPTIONS": {"server_side_binding": True}}
    wrapper = DatabaseWrapper(entry, "server_binding")
    read = sql.SQL("SELECT text FROM {}").format(sql.Identifier(Note._meta.db_table))
    trace = WireTrace(tmp_path)

    def texts(tenant: Tenant) -> list[str]:
        with TenantContext.use_tenant(tenant), wrapper.cursor() as cursor:
            assert isinstance(cursor.cursor, PathServerBindingCursor)
            cursor.execute(read)
            return [row[0] for row in cursor.fetchall()]

    try:
        assert texts(alpha) == ["path_alpha"]  # a new connection: the path at start-up
        trace.attach(wrapper.connection)
        since = trace.mark()
        assert texts(beta) == ["path_beta"]
        assert texts(alpha) == ["path_alpha"]
        # Each switch: set_config and the read in one pipeline, one Sync, one round trip.
        assert [path_of(statement) for statement in trace.sets(since)] == [
            '"path_beta"',
            '"path_alpha"',
        ]
        assert trace.round_trips(since) == 2
        with TenantContext.use_tenant(beta), pytest.raises(DatabaseError):
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT 1 / 0")
        # One implicit transaction up to the Sync: the failure took the path back.
        assert raw_search_path(wrapper.connection) == "path_alpha"
        assert wrapper.omnitenant_search_path is None
        assert texts(beta) == ["path_beta"]
    finally:
        trace.close()
        wrapper.close()
