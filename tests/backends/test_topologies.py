"""Isolation in every supported connection topology (issue 13).

The same checks run with the master connection going directly to PostgreSQL, through
Django's psycopg pool, and through a stock PgBouncer in session and in transaction mode:
several threads switch between several tenants, half of them closing their connection at
the end of each "request" as Django does with ``CONN_MAX_AGE = 0``, and every read is
checked against its tenant. Statements and round trips are counted at the client's libpq
(its protocol trace) and, through PgBouncer, in PgBouncer's own statistics.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.backends.signals import connection_created
from django.test import override_settings
from psycopg import sql

from django_omnitenant import lifecycle, provisioning
from django_omnitenant.management.commands import migratealltenants
from django_omnitenant.utils import get_tenant_model
from omnitenant_backends.conf import OmnitenantConfigurationError
from omnitenant_backends.postgresql.affinity import one_connection
from omnitenant_backends.postgresql.base import AFFINITY_KEY, DatabaseWrapper
from omnitenant_context import Tenant, TenantContext
from tests.backends.pgbouncer import PgBouncer, pgbouncer_binary
from tests.backends.test_search_path import WireTrace, is_path_statement
from tests.conftest import services_required
from tests.servers import free_port
from tests.tenantapp.models import Note
from tests.testapp.models import Tenant as TenantRow

pytestmark = [pytest.mark.postgres, pytest.mark.pgbouncer]

TenantFactory = Callable[..., Any]
ALIAS = "topology"
TOPOLOGIES = ("direct", "django_pool", "pgbouncer_session", "pgbouncer_transaction")
# Persistent connections with connection affinity, directly and through PgBouncer's
# session mode: up to AFFINITY connections per wrapper, one per path.
AFFINITY_TOPOLOGIES = ("direct_affinity", "pgbouncer_session_affinity")
AFFINITY = 4  # the three tenants of ``tenants`` and the master
THREADS = 4
REQUESTS_PER_THREAD = 60


def required_pgbouncer() -> str:
    """The pgbouncer executable; a missing one fails where services are required."""
    binary = pgbouncer_binary()
    if binary is None:
        message = "pgbouncer is not installed and could not be installed"
        if services_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return binary


@pytest.fixture(scope="module")
def bouncers() -> Iterator[dict[str, PgBouncer]]:
    """One PgBouncer per pooling mode, for the whole module; stopped by pid."""
    binary = required_pgbouncer()
    server = connections["default"].settings_dict
    started: dict[str, PgBouncer] = {}
    try:
        # Session mode holds a server connection per client connection: with affinity,
        # up to AFFINITY per thread.
        for mode, pool_size in (("session", THREADS * AFFINITY), ("transaction", 2)):
            started[mode] = PgBouncer(
                binary,
                pool_mode=mode,
                server_port=int(server["PORT"]),
                user=server["USER"],
                pool_size=pool_size,
            )
        yield started
    finally:
        for bouncer in started.values():
            bouncer.stop()


def topology_settings(topology: str, bouncers: dict[str, PgBouncer]) -> dict[str, Any]:
    """The master's ``DATABASES`` entry as this topology reaches the same database."""
    entry = {**connections["default"].settings_dict, "OPTIONS": {}, "CONN_MAX_AGE": 0}
    entry.pop("OMNITENANT_POOLER", None)
    if topology.endswith("_affinity"):
        topology = topology.removesuffix("_affinity")
        entry.update({"CONN_MAX_AGE": None, AFFINITY_KEY: AFFINITY})
    if topology == "django_pool":
        entry["OPTIONS"] = {"pool": {"min_size": 1, "max_size": THREADS, "timeout": 10}}
    elif topology.startswith("pgbouncer_"):
        mode = topology.removeprefix("pgbouncer_")
        entry["PORT"] = bouncers[mode].port
        entry["OMNITENANT_POOLER"] = mode
        if mode == "transaction":
            entry["DISABLE_SERVER_SIDE_CURSORS"] = True
    return entry


@pytest.fixture(params=TOPOLOGIES)
def topology(
    request: pytest.FixtureRequest, live_db: None, bouncers: dict[str, PgBouncer]
) -> Iterator[str]:
    """The master database reached through one topology under its own alias."""
    name: str = request.param
    handler_settings = connections.settings
    if handler_settings is settings.DATABASES:
        handler_settings = dict(handler_settings)
        connections.__dict__["settings"] = handler_settings
    handler_settings[ALIAS] = connections.configure_settings(
        {"default": handler_settings["default"], ALIAS: topology_settings(name, bouncers)}
    )[ALIAS]
    config = {**settings.OMNITENANT_CONFIG, "MASTER_DATABASE": ALIAS}
    try:
        with override_settings(OMNITENANT_CONFIG=config):
            yield name
    finally:
        wrapper = connections[ALIAS]
        wrapper.close()
        if isinstance(wrapper, DatabaseWrapper) and wrapper.pool is not None:
            wrapper.close_pool()
        del connections[ALIAS]
        del handler_settings[ALIAS]


@pytest.fixture
def tenants(tenant_factory: TenantFactory) -> list[Tenant]:
    made = [tenant_factory(f"topo_{index}") for index in range(3)]
    for tenant in made:
        with TenantContext.use_tenant(tenant):
            Note.objects.create(text=tenant.tenant_id)
    connections["default"].close()
    return made


def read_as(tenant: Tenant) -> tuple[list[str], str]:
    """One "request": the tenant's notes, and the tenant row found through the master."""
    tenant_model = get_tenant_model()
    with TenantContext.use_tenant(tenant):
        texts = list(Note.objects.values_list("text", flat=True))
        owner = tenant_model.objects.get(tenant_id=tenant.tenant_id).tenant_id
    return texts, owner


def spelled_path(shown: str) -> tuple[str, ...]:
    """The schemas in a ``search_path`` as the server shows it (quoted or not)."""
    return tuple(part.strip().strip('"') for part in shown.split(","))


@pytest.mark.parametrize("topology", TOPOLOGIES + AFFINITY_TOPOLOGIES, indirect=True)
def test_concurrent_clients_read_only_their_tenants_rows(
    topology: str, tenants: list[Tenant]
) -> None:
    wrong: list[str] = []
    errors: list[BaseException] = []
    reads = [0]
    lock = threading.Lock()

    def client(number: int) -> None:
        try:
            for request in range(REQUESTS_PER_THREAD):
                tenant = tenants[(number + request) % len(tenants)]
                texts, owner = read_as(tenant)
                with lock:
                    reads[0] += 1
                    if texts != [tenant.tenant_id] or owner != tenant.tenant_id:
                        wrong.append(f"{tenant.tenant_id}: {texts} / {owner}")
                if number % 2 == 0:
                    connections[ALIAS].close()  # CONN_MAX_AGE = 0: a connection per request
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(number,)) for number in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert reads[0] == THREADS * REQUESTS_PER_THREAD
    assert wrong == []


def test_a_tenant_switch_costs_no_round_trip(
    topology: str, tenants: list[Tenant], tmp_path: Path, bouncers: dict[str, PgBouncer]
) -> None:
    wrapper = connections[ALIAS]
    read_as(tenants[0])  # connect, and settle the time zone
    trace = WireTrace(tmp_path)
    trace.attach(wrapper.connection)
    database = str(wrapper.settings_dict["NAME"])
    bouncer = bouncers.get(topology.removeprefix("pgbouncer_"))
    before = bouncer.stats(database) if bouncer else {}
    try:
        since = trace.mark()
        for request in range(1, 13):
            with TenantContext.use_tenant(tenants[request % len(tenants)]):
                assert list(Note.objects.values_list("text", flat=True)) == [
                    tenants[request % len(tenants)].tenant_id
                ]
        sent = trace.statements(since)
        round_trips = trace.round_trips(since)
    finally:
        trace.close()
    # Every read switched tenant: each carried its path, in its own round trip.
    assert round_trips == 12
    assert len(sent) == 24, sent
    if bouncer is not None:
        after = bouncer.stats(database)
        # PgBouncer saw the same: it counts a query per round trip (up to its Sync), and
        # each one was a transaction of its own (path and read together).
        assert after["total_query_count"] - before["total_query_count"] == 12
        assert after["total_xact_count"] - before["total_xact_count"] == 12


def test_staying_in_one_tenant_sends_the_path_once_unless_transactions_are_pooled(
    topology: str, tenants: list[Tenant], tmp_path: Path
) -> None:
    wrapper = connections[ALIAS]
    read_as(tenants[0])
    trace = WireTrace(tmp_path)
    trace.attach(wrapper.connection)
    try:
        since = trace.mark()
        with TenantContext.use_tenant(tenants[1]):
            for _ in range(10):
                assert Note.objects.count() == 1
        paths = trace.sets(since)
        round_trips = trace.round_trips(since)
    finally:
        trace.close()
    assert round_trips == 10
    # In transaction mode each autocommit statement is its own transaction, on whichever
    # server connection PgBouncer picks: each one carries the path.
    assert len(paths) == (10 if topology == "pgbouncer_transaction" else 1)


@pytest.mark.parametrize("topology", ["django_pool"], indirect=True)
def test_a_pooled_session_keeps_its_path_for_the_next_request(
    topology: str, tenants: list[Tenant]
) -> None:
    """Django returns the connection to its pool after each request: the engine leaves
    the session's path on it, so the next request in the same tenant sends none. (Only
    Django's pool hands one server session from request to request.)"""
    wrapper = connections[ALIAS]
    assert isinstance(wrapper, DatabaseWrapper)
    remembered = 0
    for _ in range(2 * THREADS):  # the pool holds at most THREADS sessions
        with TenantContext.use_tenant(tenants[1]):
            assert list(Note.objects.values_list("text", flat=True)) == [tenants[1].tenant_id]
        wrapper.close()  # back to the pool
        wrapper.ensure_connection()
        known = wrapper.omnitenant_search_path
        # Whatever the engine believes of a pooled session is what the server has.
        actual = wrapper.connection.execute("SHOW search_path").fetchone()
        assert actual is not None
        if known is not None:
            assert known == spelled_path(str(actual[0]))
            remembered += known == (tenants[1].schema_name,)
        wrapper.connection.rollback()
    assert remembered > 0


def test_transaction_pooling_refuses_server_side_cursors() -> None:
    entry = {
        **settings.DATABASES["default"],
        "OPTIONS": {},
        "OMNITENANT_POOLER": "transaction",
    }
    with pytest.raises(OmnitenantConfigurationError, match="DISABLE_SERVER_SIDE_CURSORS"):
        DatabaseWrapper(entry, "refused")
    with pytest.raises(OmnitenantConfigurationError, match="prepare_threshold"):
        DatabaseWrapper(
            {**entry, "DISABLE_SERVER_SIDE_CURSORS": True, "OPTIONS": {"prepare_threshold": 5}},
            "refused",
        )
    with pytest.raises(OmnitenantConfigurationError, match="OMNITENANT_POOLER"):
        DatabaseWrapper({**entry, "OMNITENANT_POOLER": "statement"}, "refused")


def test_a_tenant_in_maintenance_is_read_only_under_a_bare_use_tenant(
    topology: str, tenants: list[Tenant], tmp_path: Path
) -> None:
    """The engine makes each transaction of a tenant in maintenance read-only, in the same
    round trip as its statement: no session state, so nothing sticks to a server
    connection that a transaction-mode PgBouncer hands to the next client."""
    locked, other = tenants[0], tenants[1]
    assert isinstance(locked, TenantRow)
    provisioning.start_maintenance(locked, reason="topology test")
    wrapper = connections[ALIAS]
    insert = sql.SQL("INSERT INTO {} (text) VALUES (%s)").format(
        sql.Identifier(Note._meta.db_table)
    )
    with TenantContext.use_tenant(locked):
        trace = WireTrace(tmp_path)
        wrapper.ensure_connection()
        trace.attach(wrapper.connection)
        try:
            since = trace.mark()
            for _ in range(3):
                assert list(Note.objects.values_list("text", flat=True)) == [locked.tenant_id]
            round_trips = trace.round_trips(since)
            sent = trace.statements(since)
        finally:
            trace.close()
        with pytest.raises(DatabaseError) as autocommit_write:
            Note.objects.create(text="refused")
        with pytest.raises(DatabaseError) as atomic_write, transaction.atomic(using=ALIAS):
            Note.objects.create(text="refused in a transaction")
        with pytest.raises(DatabaseError) as many, wrapper.cursor() as cursor:
            cursor.executemany(insert, [("a",), ("b",)])
    # Reads cost what they cost in an active tenant: the setting rides along.
    assert round_trips == 3
    assert sent.count("SET LOCAL transaction_read_only TO on") == 3
    for refused in (autocommit_write, atomic_write, many):
        assert lifecycle.is_read_only_violation(refused.value), refused.value

    def write_the_lifecycle_way() -> None:
        with lifecycle.use_tenant(locked):
            Note.objects.create(text="refused")

    with pytest.raises(lifecycle.TenantReadOnly, match="in maintenance"):
        write_the_lifecycle_way()

    # Every server connection the client reached stays writable for everyone else.
    with TenantContext.use_tenant(other):
        for number in range(2 * THREADS):
            Note.objects.create(text=f"after {number}")
    with TenantContext.use_master_db():
        TenantRow.objects.filter(pk=locked.pk).update(status_detail="still editable")

    provisioning.end_maintenance(locked)
    with TenantContext.use_tenant(locked):
        Note.objects.create(text="back")
        assert Note.objects.count() == 2


@pytest.fixture
def one_server_connection(live_db: None) -> Iterator[PgBouncer]:
    """A transaction-mode PgBouncer with a single server connection for every client."""
    binary = required_pgbouncer()
    server = connections["default"].settings_dict
    bouncer = PgBouncer(
        binary,
        pool_mode="transaction",
        server_port=int(server["PORT"]),
        user=server["USER"],
        pool_size=1,
    )
    try:
        yield bouncer
    finally:
        bouncer.stop()


def test_nothing_the_path_statements_set_outlives_their_statement_in_transaction_pooling(
    one_server_connection: PgBouncer, tenants: list[Tenant]
) -> None:
    """Two clients share one server connection: what the engine sends for a tenant's
    statement (``SET LOCAL`` in the statement's own implicit transaction) must be gone
    when the other client's next transaction lands on that connection."""
    locked, active = tenants[0], tenants[1]
    assert isinstance(locked, TenantRow)
    provisioning.start_maintenance(locked, reason="path statement test")
    entry = topology_settings("pgbouncer_transaction", {"transaction": one_server_connection})
    wrapper = DatabaseWrapper(entry, "one_server_connection")
    probe = sql.SQL(
        "SELECT pg_backend_pid(), current_setting('search_path'), "
        "current_setting('transaction_read_only'), (SELECT text FROM {})"
    ).format(sql.Identifier(Note._meta.db_table))
    server = connections["default"].settings_dict
    other = psycopg.connect(
        host="127.0.0.1",
        port=one_server_connection.port,
        user=server["USER"],
        dbname=server["NAME"],
        autocommit=True,
    )
    try:
        seen: set[int] = set()
        for tenant, read_only in ((active, "off"), (locked, "on"), (active, "off")):
            with TenantContext.use_tenant(tenant), wrapper.cursor() as cursor:
                cursor.execute(probe)
                pid, path, in_transaction, text = cursor.fetchone()
            assert (spelled_path(path), in_transaction, text) == (
                (tenant.schema_name,),
                read_only,
                tenant.tenant_id,
            )
            # The other client, on the same server connection, finds its defaults.
            row = other.execute(
                "SELECT pg_backend_pid(), current_setting('search_path'), "
                "current_setting('transaction_read_only')"
            ).fetchone()
            assert row == (pid, '"$user", public', "off")
            seen.add(pid)
        assert len(seen) == 1
    finally:
        other.close()
        wrapper.close()
        provisioning.end_maintenance(locked)


# Connection affinity (OMNITENANT_AFFINITY): a switch picks a connection already on the
# wanted path, and sends nothing more.


class OpenedConnections:
    """The server connections the topology alias opens, each traced in libpq."""

    def __init__(self, trace: WireTrace) -> None:
        self.trace = trace
        self.raw: list[psycopg.Connection[Any]] = []

    def __call__(self, sender: Any, connection: Any, **kwargs: Any) -> None:
        if connection.alias == ALIAS:
            self.raw.append(connection.connection)
            self.trace.attach(connection.connection)


def probe(wrapper: Any, tenant: Tenant) -> tuple[int, tuple[str, ...], str]:
    """The server process, the path and the tenant's note, as ``tenant`` sees them."""
    statement = sql.SQL(
        "SELECT pg_backend_pid(), current_setting('search_path'), (SELECT text FROM {})"
    ).format(sql.Identifier(Note._meta.db_table))
    with TenantContext.use_tenant(tenant), wrapper.cursor() as cursor:
        cursor.execute(statement)
        pid, path, text = cursor.fetchone()
    return int(pid), spelled_path(str(path)), str(text)


def server_processes(pids: set[int]) -> set[int]:
    """Those of ``pids`` the server still runs, once it had time to end the others."""
    left = set(pids)
    for _ in range(100):
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", [list(pids)])
            left = {int(row[0]) for row in cursor.fetchall()}
        if not left:
            break
        time.sleep(0.05)
    return left


@pytest.mark.parametrize("topology", AFFINITY_TOPOLOGIES, indirect=True)
def test_with_affinity_a_tenant_switch_sends_no_path(
    topology: str, tenants: list[Tenant], tmp_path: Path
) -> None:
    connections[ALIAS].close()  # the fixtures used it: count from nothing
    trace = WireTrace(tmp_path)
    opened = OpenedConnections(trace)
    connection_created.connect(opened)
    try:
        for tenant in tenants:  # a connection for each tenant, and one for the master
            read_as(tenant)
        since = trace.mark()
        for request in range(1, 13):
            tenant = tenants[request % len(tenants)]
            assert read_as(tenant) == ([tenant.tenant_id], tenant.tenant_id)
        sent = trace.statements(since)
        round_trips = trace.round_trips(since)
    finally:
        connection_created.disconnect(opened)
        trace.close()
    assert len(opened.raw) == AFFINITY
    # Each request: the tenant's notes and the tenant's row through the master route,
    # each on the connection already on its path.
    assert round_trips == 24
    assert len(sent) == 24, sent
    assert [statement for statement in sent if is_path_statement(statement)] == []


def test_affinity_keeps_at_most_its_connections(live_db: None, tenants: list[Tenant]) -> None:
    """Three tenants in turn, two connections: each switch takes the connection used least
    recently and moves it (its statement carries the path), and every read is right."""
    entry = {**topology_settings("direct", {}), "CONN_MAX_AGE": None, AFFINITY_KEY: 2}
    wrapper = DatabaseWrapper(entry, "affinity_of_two")
    pids: list[int] = []
    try:
        for request in range(9):
            tenant = tenants[request % len(tenants)]
            pid, path, text = probe(wrapper, tenant)
            assert (path, text) == ((tenant.schema_name,), tenant.tenant_id)
            pids.append(pid)
        # Two tenants in turn fit: each finds its connection where it left it.
        for request in range(6):
            tenant = tenants[request % 2]
            pid, path, text = probe(wrapper, tenant)
            assert (path, text) == ((tenant.schema_name,), tenant.tenant_id)
            pids.append(pid)
    finally:
        wrapper.close()
    assert len(set(pids)) == 2
    assert all(pids[index] != pids[index + 1] for index in range(8))
    assert pids[11] == pids[13] != pids[12] == pids[14]
    assert server_processes(set(pids)) == set()


@pytest.mark.parametrize("topology", ["direct_affinity"], indirect=True)
def test_with_affinity_a_transaction_stays_on_its_connection(
    topology: str, tenants: list[Tenant]
) -> None:
    first, second = tenants[0], tenants[1]
    wrapper = connections[ALIAS]
    wrapper.close()
    opened = {probe(wrapper, first)[0], probe(wrapper, second)[0]}
    assert len(opened) == 2
    with transaction.atomic(using=ALIAS):
        seen = [probe(wrapper, tenant) for tenant in (first, second, first)]
        for tenant in (first, second):
            with TenantContext.use_tenant(tenant):
                Note.objects.create(text="rolled back")
        transaction.set_rollback(True, using=ALIAS)
    assert len({pid for pid, _, _ in seen}) == 1
    assert [(path, text) for _, path, text in seen] == [
        ((tenant.schema_name,), tenant.tenant_id) for tenant in (first, second, first)
    ]
    # The rollback left that connection's path unknown: it is kept, and the next switch
    # that finds no connection on its path takes it (with a SET) before opening another.
    after = [probe(wrapper, tenant) for tenant in (first, second, first, second)]
    assert {pid for pid, _, _ in after} == opened
    assert [(path, text) for _, path, text in after] == [
        ((tenant.schema_name,), tenant.tenant_id) for tenant in (first, second, first, second)
    ]
    for tenant in (first, second):  # one transaction, rolled back as one
        with TenantContext.use_tenant(tenant):
            assert list(Note.objects.values_list("text", flat=True)) == [tenant.tenant_id]


@pytest.mark.parametrize("topology", AFFINITY_TOPOLOGIES, indirect=True)
def test_with_affinity_a_parked_connection_the_server_ended_is_replaced(
    topology: str, tenants: list[Tenant], bouncers: dict[str, PgBouncer]
) -> None:
    first, second = tenants[0], tenants[1]
    wrapper = connections[ALIAS]
    wrapper.close()
    parked = probe(wrapper, first)[0]
    current = probe(wrapper, second)[0]
    bouncer = bouncers["session"] if topology.startswith("pgbouncer") else None
    database = str(wrapper.settings_dict["NAME"])
    clients = bouncer.clients(database) if bouncer else 0
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [parked])
    assert server_processes({parked}) == set()
    if bouncer is not None:  # PgBouncer ends the client of a dead server session
        for _ in range(100):
            if bouncer.clients(database) < clients:
                break
            time.sleep(0.05)
        assert bouncer.clients(database) < clients
    pid, path, text = probe(wrapper, first)  # no error: the dead one was not used
    assert (path, text) == ((first.schema_name,), first.tenant_id)
    assert pid not in (parked, current)
    assert probe(wrapper, second)[0] == current


@pytest.mark.parametrize("topology", ["direct_affinity"], indirect=True)
def test_with_affinity_a_refused_connection_leaves_the_request_on_the_one_it_had(
    topology: str, tenants: list[Tenant], caplog: pytest.LogCaptureFixture
) -> None:
    """No room for another connection (here: nothing listens where it would go) is no
    reason to fail a request: it goes on on its connection, with the path in its
    statement, and the wrapper stops trying until it is closed."""
    wrapper = connections[ALIAS]
    wrapper.close()
    pid = probe(wrapper, tenants[0])[0]
    port = wrapper.settings_dict["PORT"]
    wrapper.settings_dict["PORT"] = free_port()
    try:
        with caplog.at_level(logging.WARNING, logger="omnitenant.backends"):
            for tenant in (tenants[1], tenants[2], tenants[0], tenants[1]):
                assert probe(wrapper, tenant) == (pid, (tenant.schema_name,), tenant.tenant_id)
    finally:
        wrapper.settings_dict["PORT"] = port
    [warning] = [record.getMessage() for record in caplog.records]
    assert warning.startswith(
        f"Connection affinity on {ALIAS!r}: could not open connection 2 of {AFFINITY}; "
        "going on with 1 until this connection closes. OperationalError: "
    )
    assert "Connection refused" in warning
    wrapper.close()  # a new connection may open more again
    assert probe(wrapper, tenants[0])[0] != probe(wrapper, tenants[1])[0]


@pytest.mark.parametrize("topology", AFFINITY_TOPOLOGIES, indirect=True)
def test_closing_a_wrapper_with_affinity_ends_every_server_connection(
    topology: str, tenants: list[Tenant]
) -> None:
    wrapper = connections[ALIAS]
    pids = {probe(wrapper, tenant)[0] for tenant in tenants}
    assert len(pids) == len(tenants)
    wrapper.close()
    if topology == "direct_affinity":
        assert server_processes(pids) == set()


def test_affinity_is_refused_where_it_cannot_work() -> None:
    entry = {**settings.DATABASES["default"], "OPTIONS": {}, "CONN_MAX_AGE": None}
    refused: dict[str, dict[str, Any]] = {
        "Django's pool": {"OPTIONS": {"pool": True}},
        "transaction-mode pooler": {
            "OMNITENANT_POOLER": "transaction",
            "DISABLE_SERVER_SIDE_CURSORS": True,
        },
        "CONN_MAX_AGE = 0": {"CONN_MAX_AGE": 0},
    }
    for reason, change in refused.items():
        with pytest.raises(OmnitenantConfigurationError, match=re.escape(reason)):
            DatabaseWrapper({**entry, **change, AFFINITY_KEY: 3}, "refused")
    for wrong in (0, -2, True, "3", 2.5):
        with pytest.raises(OmnitenantConfigurationError, match="whole number"):
            DatabaseWrapper({**entry, AFFINITY_KEY: wrong}, "refused")
    # 1 and None ask for no affinity, which every topology has.
    DatabaseWrapper({**entry, "CONN_MAX_AGE": 0, AFFINITY_KEY: 1}, "no_affinity")
    DatabaseWrapper({**entry, "OPTIONS": {"pool": True}, AFFINITY_KEY: None}, "no_affinity")


@pytest.mark.parametrize("topology", ["direct_affinity"], indirect=True)
def test_session_state_stays_on_one_connection_in_a_pinned_block(
    topology: str, tenants: list[Tenant]
) -> None:
    """A session lock taken in a pinned block is the lock of every statement in it, and
    its release finds it; out of the block the tenants' statements move again."""
    wrapper = connections[ALIAS]
    wrapper.close()
    key = 4_242_013
    with one_connection(wrapper):
        with TenantContext.use_master_db(), wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s), pg_backend_pid()", [key])
            acquired, holder = cursor.fetchone()
        seen = {probe(wrapper, tenant)[0] for tenant in tenants}
        with TenantContext.use_master_db(), wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            released = cursor.fetchone()[0]
    assert (acquired, released) == (True, True)
    assert seen == {holder}
    assert len({probe(wrapper, tenant)[0] for tenant in tenants}) > 1


@pytest.mark.parametrize("topology", ["direct_affinity"], indirect=True)
def test_migration_lock_of_a_tenant_holds_across_its_statements_with_affinity(
    topology: str, tenants: list[Tenant]
) -> None:
    """``migratealltenants`` holds a tenant's session lock while it migrates: with
    affinity the tenant's statements stay on the lock's connection, and the release
    finds the lock."""
    wrapper = connections[ALIAS]
    held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s"
    with migratealltenants._tenant_lock("topo_0") as acquired:
        assert acquired
        pids = {probe(wrapper, tenant)[0] for tenant in tenants}
        assert len(pids) == 1
        with connections["default"].cursor() as cursor:
            cursor.execute(held, [*pids])
            assert cursor.fetchone() == (1,)
    # Released on the connection that took it, whatever the statements in between did.
    with connections["default"].cursor() as cursor:
        cursor.execute(held, [*pids])
        assert cursor.fetchone() == (0,)


@pytest.mark.parametrize("topology", ["direct_affinity"], indirect=True)
def test_with_affinity_a_second_connection_on_one_path_is_kept_open(
    topology: str, tenants: list[Tenant]
) -> None:
    """A transaction's SET can leave two connections on one path; the engine keeps both
    (one may hold session state), it never closes a usable connection it parks."""
    first, second = tenants[0], tenants[1]
    wrapper = connections[ALIAS]
    wrapper.close()
    on_first = probe(wrapper, first)[0]
    on_second = probe(wrapper, second)[0]
    with transaction.atomic(using=ALIAS):
        assert probe(wrapper, first)[0] == on_second  # moved by a SET, in its transaction
    assert probe(wrapper, second)[0] not in (on_first, on_second)  # a third one
    assert server_processes({on_first, on_second}) == {on_first, on_second}
    assert probe(wrapper, first)[0] in (on_first, on_second)


@pytest.mark.parametrize("server_side_binding", [False, True], ids=["client", "server"])
def test_with_affinity_a_cursor_kept_across_a_switch_changes_no_connection_it_left(
    live_db: None, tenants: list[Tenant], server_side_binding: bool
) -> None:
    """A cursor taken in one tenant and used after the wrapper moved to another
    connection runs on its own connection, on its own tenant's path, and leaves what the
    engine knows of every connection true: the next statement in that tenant on the
    wrapper's connection still gets its path."""
    first, second, third = tenants
    entry = topology_settings("direct_affinity", {})
    entry["OPTIONS"] = {"server_side_binding": server_side_binding}
    wrapper = DatabaseWrapper(entry, "kept_cursor")
    table = sql.Identifier(Note._meta.db_table)
    probe(wrapper, first)
    probe(wrapper, second)
    with TenantContext.use_tenant(first):
        kept = wrapper.cursor()  # on the first tenant's connection
    try:
        for round_ in range(3):
            tenant = (third, second, third)[round_]
            # The wrapper moves to another connection (a new one, then parked ones).
            assert probe(wrapper, tenant)[1:] == ((tenant.schema_name,), tenant.tenant_id)
            kept.execute(sql.SQL("SELECT text FROM {}").format(table))
            assert kept.fetchall() == [(first.tenant_id,)]
            kept.executemany(
                sql.SQL("INSERT INTO {} (text) SELECT %s WHERE false").format(table), [("x",)]
            )
            for other in (first, second, third, first):
                assert probe(wrapper, other)[1:] == ((other.schema_name,), other.tenant_id)
    finally:
        kept.close()
        wrapper.close()


@pytest.mark.parametrize("server_side_binding", [False, True], ids=["client", "server"])
def test_with_djangos_pool_a_cursor_used_after_its_connection_went_back_changes_nothing(
    live_db: None, tenants: list[Tenant], server_side_binding: bool
) -> None:
    """A cursor kept after ``close()`` runs on the pooled session it was made on, which
    the pool may have handed to someone else meanwhile. It reads its own tenant, for its
    own transaction only: the path the engine left on that session for its next user,
    and what the wrapper believes of its new session, both stay true."""
    first, second, _third = tenants
    entry = topology_settings("direct", {})
    # Two sessions, handed out first in, first out: a close and a new checkout change
    # sessions, so the kept cursor's session is not the wrapper's.
    pool = {"min_size": 2, "max_size": 2, "timeout": 10}
    entry["OPTIONS"] = {"pool": pool, "server_side_binding": server_side_binding}
    wrapper = DatabaseWrapper(entry, "kept_pooled_cursor")
    table = sql.Identifier(Note._meta.db_table)
    read = sql.SQL("SELECT text FROM {}").format(table)
    with TenantContext.use_tenant(first):
        kept = wrapper.cursor()  # opens Django's pool
    try:
        # The pool's second session opens in the background: wait for it, so that the
        # order sessions are handed out in is the pool's (first in, first out).
        for _ in range(200):
            if wrapper.pool.get_stats().get("pool_available", 0) >= 1:
                break
            time.sleep(0.05)
        assert wrapper.pool.get_stats().get("pool_available", 0) >= 1
        kept_session = probe(wrapper, second)[0]  # the kept cursor's session, left on second
        wrapper.close()  # back to the pool, known to be on the second tenant's path
        for _ in range(3):
            pid, path, text = probe(wrapper, second)
            assert pid != kept_session
            assert (path, text) == ((second.schema_name,), second.tenant_id)
            kept.execute(read)  # on the pooled session, in the first tenant
            assert kept.fetchall() == [(first.tenant_id,)]
            # The wrapper's own session is still where the engine believes it is.
            assert probe(wrapper, second)[1:] == ((second.schema_name,), second.tenant_id)
            wrapper.close()
            # The kept cursor's session comes back, as the engine left it: second's path.
            pid, path, text = probe(wrapper, second)
            assert pid == kept_session
            assert (path, text) == ((second.schema_name,), second.tenant_id)
            wrapper.close()
    finally:
        kept.close()
        wrapper.close()
        wrapper.close_pool()
