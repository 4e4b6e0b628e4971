"""What the path change costs per statement, by the form it is sent in (issue 13).

psycopg alone (no Django), Django's client-side-binding cursor class (``ClientCursor``, no
prepared statements), autocommit, every statement switching among 10 schemas: a read of
one row by primary key, alone (schema-qualified: no path needed) or behind each form of
path change in the same simple-query message. Directly to PostgreSQL and through a stock
PgBouncer in transaction mode (the test suite's own helper, one server connection).

Per statement it prints the wall time (loaded: the machine is shared), the **server
backend's CPU time** and PgBouncer's (``/proc/<pid>/schedstat``, before and after: CPU
the process ran, not time it waited, so far less sensitive to other load than wall time),
median and minimum over interleaved rounds. Client-side instructions: run one form under
callgrind with ``--client FORM COUNT`` at two counts and divide the difference::

    python bench/path_statement.py [--rounds 7] [--statements 3000] [--no-pgbouncer]
    python bench/path_statement.py --pin --schemas 100   # own cluster on its own core
    valgrind --tool=callgrind python bench/path_statement.py --client SET 1200
    valgrind --tool=callgrind python bench/path_statement.py --client SET-param 1200

Directly, one more row: **connection affinity** (``OMNITENANT_AFFINITY``), a connection per
schema, each already on its schema's path, the read sent round-robin over them with
nothing in front: the server CPU of all those backends together. It shows what callgrind's
count cannot (each process there has caches of its own): a statement landing on another
backend each time finds less of its memory in the CPU's caches.

The path's ``SET`` is measured with the schema names in its text (what the engine sends)
and as the statement's parameters (a text the same for every schema). psycopg keeps the
parse of 128 statement texts per process: with the names in the text and more schemas
than that in rotation (``--schemas 1000``), each statement is parsed again, which the
client count shows; as parameters, psycopg quotes each name instead, which costs more
than the parse saves below that size.

It creates a database of its own (``omnitenant_bench_pathstmt_<pid>``) and drops it.
``--schemas N`` rotates over N schemas instead of 10 (what a server pays for reading
many tenants' tables, with or without a path change); ``--pin`` runs against a cluster of
the bench's own pinned to one CPU, the script on the other (``bench/issue13.py``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psycopg

HOST = os.environ.get("BENCH_PGHOST", "127.0.0.1")
PORT = int(os.environ.get("BENCH_PGPORT", "5432"))
USER = os.environ.get("BENCH_PGUSER", "postgres")
# The script's own constant names: the f-strings below build SQL from nothing else.
SCHEMAS = [f"pathstmt_{number}" for number in range(10)]  # --schemas N replaces it
READ = "SELECT id, name FROM t WHERE id = %s"


def _set_config(schema: str, local: bool) -> str:
    flag = "true" if local else "false"
    return f"SELECT pg_catalog.set_config('search_path', '\"{schema}\"', {flag})"


#: The one form whose text holds a placeholder for the schema name (sent as a parameter).
NAMES_AS_PARAMETERS = "SET %s; read (names as parameters)"
#: name -> (statement text for a schema, statements in front of the read); the read takes
#: the parameter ``(7,)``, after the schema name in ``NAMES_AS_PARAMETERS``.
FORMS: dict[str, tuple[Callable[[str], str], int]] = {
    "read alone (qualified, no path)": (
        lambda schema: f'SELECT id, name FROM "{schema}".t WHERE id = %s',  # noqa: S608
        0,
    ),
    "SELECT 1; read (qualified, no path)": (
        lambda schema: f'SELECT 1; SELECT id, name FROM "{schema}".t WHERE id = %s',  # noqa: S608
        1,
    ),
    "set_config(false); read (before)": (lambda s: f"{_set_config(s, False)}; {READ}", 1),
    "SET; read (now)": (lambda s: f'SET search_path TO "{s}"; {READ}', 1),
    NAMES_AS_PARAMETERS: (lambda s: f"SET search_path TO %s; {READ}", 1),
    "set_config(true); read (before, transaction pooling)": (
        lambda s: f"{_set_config(s, True)}; {READ}",
        1,
    ),
    "SET LOCAL; read (now, transaction pooling)": (
        lambda s: f'SET LOCAL search_path TO "{s}"; {READ}',
        1,
    ),
    "read-only: set_config x2; read (before)": (
        lambda s: (
            f"{_set_config(s, True)}, "
            f"pg_catalog.set_config('transaction_read_only', 'on', true); {READ}"
        ),
        1,
    ),
    "read-only: SET LOCAL x2; read (now)": (
        lambda s: f'SET LOCAL transaction_read_only TO on; SET LOCAL search_path TO "{s}"; {READ}',
        2,
    ),
}
CLIENT_FORMS = {
    "plain": "read alone (qualified, no path)",
    "set_config": "set_config(false); read (before)",
    "SET": "SET; read (now)",
    "SET-param": NAMES_AS_PARAMETERS,
}


AFFINITY = "read on its schema's own connection (affinity)"


def _connect(port: int, dbname: str, options: str = "") -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=HOST,
        port=port,
        user=USER,
        dbname=dbname,
        autocommit=True,
        prepare_threshold=None,
        cursor_factory=psycopg.ClientCursor,
        options=options,
    )


@contextmanager
def database() -> Iterator[str]:
    name = f"omnitenant_bench_pathstmt_{os.getpid()}"
    with _connect(PORT, "postgres") as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with _connect(PORT, name) as setup:
            for schema in SCHEMAS:
                setup.execute(f'CREATE SCHEMA "{schema}"')
                setup.execute(f'CREATE TABLE "{schema}".t (id int PRIMARY KEY, name text)')
                rows = "SELECT g, 'n' || g FROM generate_series(1, 100) g"
                setup.execute(f'INSERT INTO "{schema}".t {rows}')
        yield name
    finally:
        with _connect(PORT, "postgres") as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _cpu_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def _run(
    connection: psycopg.Connection[Any], form: str, count: int, bouncer_pid: int | None
) -> tuple[float, float, float]:
    make, prefixes = FORMS[form]
    texts = [make(schema) for schema in SCHEMAS]
    if form == NAMES_AS_PARAMETERS:
        params = [(schema, 7) for schema in SCHEMAS]
    else:
        params = [(7,)] * len(SCHEMAS)
    cursor = connection.cursor()
    cursor.execute("SELECT pg_backend_pid()")
    row = cursor.fetchone()
    assert row is not None
    backend = int(row[0])
    started, server, bouncer = time.perf_counter(), _cpu_ns(backend), 0
    if bouncer_pid:
        bouncer = _cpu_ns(bouncer_pid)
    for number in range(count):
        cursor.execute(texts[number % len(texts)], params[number % len(texts)])
        for _ in range(prefixes):
            cursor.nextset()
        cursor.fetchall()
    wall = (time.perf_counter() - started) / count * 1e6
    server_us = (_cpu_ns(backend) - server) / count / 1e3
    bouncer_us = (_cpu_ns(bouncer_pid) - bouncer) / count / 1e3 if bouncer_pid else 0.0
    return wall, server_us, bouncer_us


def _run_affinity(connections: list[psycopg.Connection[Any]], count: int) -> tuple[float, float]:
    """(wall, server CPU) per statement, the read round-robin over a connection per schema."""
    cursors = [connection.cursor() for connection in connections]
    backends = [connection.info.backend_pid for connection in connections]
    started, server = time.perf_counter(), sum(_cpu_ns(pid) for pid in backends)
    for number in range(count):
        cursor = cursors[number % len(cursors)]
        cursor.execute(READ, (7,))
        cursor.fetchall()
    wall = (time.perf_counter() - started) / count * 1e6
    return wall, (sum(_cpu_ns(pid) for pid in backends) - server) / count / 1e3


def measure(port: int, dbname: str, rounds: int, count: int, bouncer_pid: int | None) -> None:
    results: dict[str, list[tuple[float, float, float]]] = {form: [] for form in FORMS}
    with ExitStack() as stack:
        connection = stack.enter_context(_connect(port, dbname))
        # Affinity only directly: through a transaction-mode pooler it is refused.
        per_schema = (
            []
            if bouncer_pid
            else [
                stack.enter_context(_connect(port, dbname, f"-c search_path={schema}"))
                for schema in SCHEMAS
            ]
        )
        if per_schema:
            results[AFFINITY] = []
            _run_affinity(per_schema, 50 * len(per_schema))
        for form in FORMS:  # warm every form's catalog and plan caches
            _run(connection, form, 50, bouncer_pid)
        for _ in range(rounds):
            for form in FORMS:
                results[form].append(_run(connection, form, count, bouncer_pid))
            if per_schema:
                results[AFFINITY].append((*_run_affinity(per_schema, count), 0.0))
    where = "through PgBouncer (transaction mode)" if bouncer_pid else "direct"
    print(f"\n### {where}: {rounds} rounds of {count} statements, µs per statement\n")
    header = "| form | wall (loaded) | server CPU median | min |"
    rule = "|---|---:|---:|---:|"
    if bouncer_pid:
        header += " PgBouncer CPU median | min |"
        rule += "---:|---:|"
    print(header)
    print(rule)
    for form, runs in results.items():
        cells = [
            f"{statistics.median(run[0] for run in runs):.0f}",
            f"{statistics.median(run[1] for run in runs):.1f}",
            f"{min(run[1] for run in runs):.1f}",
        ]
        if bouncer_pid:
            cells += [
                f"{statistics.median(run[2] for run in runs):.1f}",
                f"{min(run[2] for run in runs):.1f}",
            ]
        print(f"| {form} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--statements", type=int, default=3000)
    parser.add_argument("--no-pgbouncer", action="store_true")
    parser.add_argument("--client", nargs=2, metavar=("FORM", "COUNT"), help=str(CLIENT_FORMS))
    parser.add_argument("--schemas", type=int, default=10, help="schemas rotated over")
    parser.add_argument("--pin", action="store_true", help="own cluster, pinned to one CPU")
    args = parser.parse_args()
    if args.schemas < 1:
        parser.error("--schemas must be at least 1")
    SCHEMAS[:] = [f"pathstmt_{number}" for number in range(args.schemas)]
    with ExitStack() as stack:
        if args.pin:
            from issue13 import pinned_cluster

            global PORT  # noqa: PLW0603 - the script's one server, chosen before any use
            PORT = int(stack.enter_context(pinned_cluster())["BENCH_PGPORT"])
        run(args)


def run(args: argparse.Namespace) -> None:
    print(f"schemas rotated over: {len(SCHEMAS)}; server on 127.0.0.1:{PORT}")
    with database() as dbname:
        if args.client:
            form, count = CLIENT_FORMS[args.client[0]], int(args.client[1])
            with _connect(PORT, dbname) as connection:
                _run(connection, form, count, None)
            return
        print(f"load average before: {os.getloadavg()}")
        measure(PORT, dbname, args.rounds, args.statements, None)
        if not args.no_pgbouncer:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from tests.backends.pgbouncer import PgBouncer, pgbouncer_binary

            binary = pgbouncer_binary()
            if binary is None:
                raise SystemExit("pgbouncer is not installed (Debian package 'pgbouncer')")
            bouncer = PgBouncer(
                binary, pool_mode="transaction", server_port=PORT, user=USER, pool_size=1
            )
            try:
                measure(bouncer.port, dbname, args.rounds, args.statements, bouncer.pid)
            finally:
                bouncer.stop()
        print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
