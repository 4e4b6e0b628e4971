"""Request benchmark: plain Django, omnitenant (schemas, databases) and django-tenants.

    hatch run bench:requests            # 10, 100 and 1,000 tenants
    hatch run bench:requests --quick    # 10 and 100 tenants
    hatch run bench:requests --micro    # omnitenant's request path, piece by piece
    hatch run bench:requests --profile omni_schema   # cProfile next to plain Django

Each variant runs in a worker process of its own (``reqbench.worker``) with its own
settings module and scratch database(s) named ``bench_requests_*``, all dropped at the
end. The workers start together and take turns: for each tenant count and connection mode
every worker is warmed, then the timed rounds go round-robin over the workers (a round of
one, then a round of the next, ...), so a slow minute on a shared machine hits every
variant alike instead of the one that happened to run then.

Per row: the median over rounds of (round time / requests); the median single request;
statements per request as psycopg sent them (every execute on any cursor, raw ones
included, plus psycopg's own BEGIN/COMMIT); the server's own count from
``pg_stat_database`` (transactions minus sessions opened) as a cross-check; and new
connections per request. The markdown goes to stdout and ``bench/results/requests.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "bench" / "results" / "requests.md"
sys.path.insert(0, str(HERE))

from reqbench.settings.common import DATABASE_PREFIX  # noqa: E402 - needs the path above
from reqbench.variants import VARIANTS  # noqa: E402 - needs the path above

DEFAULT_VARIANTS = ("plain", "omni_schema", "omni_redis", "omni_pgdb", "omni_sqlite", "dt")
#: CONN_MAX_AGE values, by the name the table gives them.
MODES: dict[str, int | None] = {
    "persistent": None,
    "per request": 0,
    "django pool": 0,
    "pgbouncer transaction": None,
    "persistent affinity": None,
}
#: How each mode reaches the server (see reqbench.worker's "mode" command).
TOPOLOGIES: dict[str, str] = {
    "persistent": "direct",
    "per request": "direct",
    "django pool": "pool",
    "pgbouncer transaction": "pgbouncer",
    "persistent affinity": "affinity",
}
#: The most server connections the affinity mode may open (a connection per tenant and the
#: master's): the machine's server allows 100 connections in all.
AFFINITY_MAX_CONNECTIONS = 60
#: The modes measured by default; the pooled ones run only for TOPOLOGY_VARIANTS.
DEFAULT_MODES = ("persistent", "per request")
TOPOLOGY_VARIANTS = ("plain", "omni_schema")
ROUND_ROBIN = "round-robin"
RUNS = 10
#: With persistent connections, these variants are also measured with RUNS requests in
#: a row to each tenant: the difference to round-robin is what a tenant switch costs.
RUN_VARIANTS = ("plain", "omni_schema", "omni_redis", "omni_pgdb", "omni_sqlite", "dt")
#: Fewer requests per round for a variant that is slow at some tenant count: a round
#: lasts about this long (seconds), and has at least MIN_REQUESTS requests.
ROUND_SECONDS = 0.5
MIN_REQUESTS = 20

Say = Callable[[str], None]


# -- the workers ------------------------------------------------------------------------


class WorkerError(RuntimeError):
    pass


class Worker:
    """A variant's process, driven over a JSON-lines pipe."""

    def __init__(
        self, key: str, env: dict[str, str], logs: Path, prefix: Sequence[str] = ()
    ) -> None:
        """``prefix``: a command the worker runs under (``bench/requests/instructions.py``
        runs it under callgrind)."""
        self.key = key
        self.variant = VARIANTS[key]
        self.log_path = logs / f"{key}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*prefix, sys.executable, "-m", "reqbench.worker", key],
            cwd=HERE,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self.pid = int(self._read()["pid"])  # {"ready": ..., "pid": ...}

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise WorkerError(f"worker {self.key} died:\n{self.log_tail()}")
        reply: dict[str, Any] = json.loads(line)
        if reply.get("ok") is False:
            raise WorkerError(f"worker {self.key} failed:\n{reply['error']}")
        return reply

    def post(self, cmd: str, **arguments: Any) -> None:
        """Send a command without waiting for its answer (``answer()`` reads it)."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **arguments}) + "\n")
        self.process.stdin.flush()

    def answer(self) -> dict[str, Any]:
        return self._read()

    def send(self, cmd: str, **arguments: Any) -> dict[str, Any]:
        self.post(cmd, **arguments)
        return self._read()

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.send("quit")
                self.process.wait(timeout=60)
            except (WorkerError, OSError, ValueError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self._log.close()


# -- the server ---------------------------------------------------------------------------


class Server:
    """The PostgreSQL server: statistics per variant, and dropping scratch databases."""

    def __init__(self) -> None:
        import psycopg

        self.connection = psycopg.connect(
            host=os.environ.get("BENCH_PGHOST", "127.0.0.1"),
            port=int(os.environ.get("BENCH_PGPORT", "5432")),
            user=os.environ.get("BENCH_PGUSER", "postgres"),
            password=os.environ.get("BENCH_PGPASSWORD") or None,
            dbname="postgres",
            autocommit=True,
        )
        self._like_all = DATABASE_PREFIX.replace("_", "\\_") + "%"
        #: Whether the server's processes are this machine's (their CPU time readable).
        self.local = os.environ.get("BENCH_PGHOST", "127.0.0.1") in ("127.0.0.1", "localhost")

    def version(self) -> str:
        row = self.connection.execute("SHOW server_version").fetchone()
        return "?" if row is None else str(row[0]).split()[0]

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no session is left on a scratch database (their stats are flushed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s", (self._like_all,)
            ).fetchone()
            if row is None or not row[0]:
                return
            time.sleep(0.02)

    def counters(self, stem: str) -> tuple[int, int]:
        """Transactions and sessions so far on the databases of one variant."""
        name = f"{DATABASE_PREFIX}{stem}"
        row = self.connection.execute(
            "SELECT coalesce(sum(xact_commit + xact_rollback), 0), coalesce(sum(sessions), 0)"
            " FROM pg_stat_database WHERE datname = %s OR datname LIKE %s",
            (name, name.replace("_", "\\_") + "\\_%"),
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def backend_pids(self, stem: str) -> list[int]:
        """The server processes of the sessions open on one variant's databases."""
        name = f"{DATABASE_PREFIX}{stem}"
        rows = self.connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s OR datname LIKE %s",
            (name, name.replace("_", "\\_") + "\\_%"),
        ).fetchall()
        return [int(row[0]) for row in rows]

    def drop_scratch_databases(self) -> int:
        from psycopg import sql

        names = [
            str(row[0])
            for row in self.connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY datname",
                (self._like_all,),
            ).fetchall()
        ]
        for name in names:
            self.connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        return len(names)


# -- measuring ----------------------------------------------------------------------------

#: Connection modes whose sessions outlive a round: their server processes' CPU time can be
#: read before and after it (with a connection per request they come and go).
CPU_MODES = ("persistent", "django pool", "pgbouncer transaction", "persistent affinity")


def cpu_ns(pid: int) -> int | None:
    """Nanoseconds process ``pid`` has spent on a CPU (``/proc/<pid>/schedstat``, Linux).

    CPU time, not time waited: far less sensitive to other processes on the machine than
    the wall clock (only a local server's processes can be read).
    """
    try:
        with open(f"/proc/{pid}/schedstat") as stat:
            return int(stat.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _cpu_of(pids: Iterable[int]) -> dict[int, int]:
    found = {pid: cpu_ns(pid) for pid in pids}
    return {pid: ns for pid, ns in found.items() if ns is not None}


@dataclass(frozen=True)
class Plan:
    sizes: Sequence[int]
    modes: Sequence[str]
    rounds: int
    requests: dict[str, int]
    #: The most tenants a variant is run with (PostgreSQL databases: see --pg-databases).
    limits: dict[str, int]


@dataclass
class Row:
    key: str
    tenants: int
    mode: str
    pattern: str = ROUND_ROBIN
    round_us: list[float] = field(default_factory=list)
    request_us: list[float] = field(default_factory=list)
    requests: int = 0
    statements: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    server_xacts: int = 0
    server_sessions: int = 0
    #: CPU µs per request, per round: the client process, and the server processes of its
    #: sessions plus PgBouncer's (empty when they cannot be read: see CPU_MODES).
    client_cpu_us: list[float] = field(default_factory=list)
    server_cpu_us: list[float] = field(default_factory=list)

    def add(self, reply: dict[str, Any]) -> None:
        self.client_cpu_us.append(reply["cpu_ns"] / 1000 / reply["requests"])
        self.round_us.append(reply["ns"] / 1000 / reply["requests"])
        self.request_us.extend(reply["request_us"])
        self.requests += reply["requests"]
        self.statements.update(reply["statements"])
        self.connections += reply["connections"]

    @property
    def median_round_us(self) -> float:
        return statistics.median(self.round_us)

    @property
    def median_request_us(self) -> float:
        return statistics.median(self.request_us)

    def per_request(self, count: float) -> float:
        return count / self.requests if self.requests else 0.0

    @property
    def statements_per_request(self) -> float:
        return self.per_request(sum(self.statements.values()))

    @property
    def sets_per_request(self) -> float:
        return self.per_request(
            sum(n for kind, n in self.statements.items() if kind.startswith("SET"))
        )

    @property
    def server_per_request(self) -> float:
        return self.per_request(self.server_xacts - self.server_sessions)

    @property
    def cpu_us(self) -> float | None:
        """Median over the rounds of client + server (+ PgBouncer) CPU µs per request."""
        if not self.server_cpu_us or len(self.server_cpu_us) != len(self.client_cpu_us):
            return None
        return statistics.median(
            c + s for c, s in zip(self.client_cpu_us, self.server_cpu_us, strict=True)
        )

    def cpu_overhead(self, plain: Row) -> float | None:
        mine, theirs = self.cpu_us, plain.cpu_us
        return None if mine is None or theirs is None else mine / theirs - 1

    def overhead(self, plain: Row) -> float:
        """The median request against plain Django's median request, minus one."""
        return self.median_request_us / plain.median_request_us - 1

    def round_overhead(self, plain: Row) -> float:
        """Median over the turns of (this round / plain Django's round of that turn) - 1."""
        return statistics.median(
            mine / theirs - 1 for mine, theirs in zip(self.round_us, plain.round_us, strict=True)
        )


def _phases(modes: Sequence[str]) -> list[tuple[str, str, int]]:
    """(mode, pattern, run length) in the order they are measured."""
    phases = []
    for mode in modes:
        phases.append((mode, ROUND_ROBIN, 1))
        if mode == "persistent":
            phases.append((mode, f"runs of {RUNS}", RUNS))
    return phases


def measure(
    workers: Sequence[Worker], server: Server, plan: Plan, say: Say, bouncer_pid: int | None = None
) -> tuple[list[Row], dict[str, dict[int, dict[str, Any]]]]:
    rows: list[Row] = []
    setup: dict[str, dict[int, dict[str, Any]]] = {w.key: {} for w in workers}
    for size in plan.sizes:
        active = [w for w in workers if size <= plan.limits.get(w.key, size)]
        # Set-up is not measured: every worker makes its tenants at once (the server
        # and the second core work for the others meanwhile).
        say(f"  {size} tenants: set-up of {', '.join(w.key for w in active)} ...")
        for worker in active:
            worker.post("grow", tenants=size)
        for worker in active:
            setup[worker.key][size] = worker.answer()
        first = True
        current_mode = None
        for mode, pattern, run_length in _phases(plan.modes):
            if TOPOLOGIES[mode] == "affinity" and size + 1 > AFFINITY_MAX_CONNECTIONS:
                say(f"  {size} tenants, {mode}: skipped (a connection per tenant is too many)")
                continue
            group = active if run_length == 1 else [w for w in active if w.key in RUN_VARIANTS]
            if TOPOLOGIES[mode] != "direct":
                group = [w for w in group if w.key in TOPOLOGY_VARIANTS]
            count = plan.requests[mode]
            say(f"  {size} tenants, {mode}, {pattern}: {plan.rounds} rounds of up to {count}")
            counts = {}
            for worker in group:
                if mode != current_mode:
                    worker.send("mode", conn_max_age=MODES[mode], topology=TOPOLOGIES[mode])
                # Every tenant once (the first request of each is not measured; the
                # tenant caches stay warm for the next phases), and then enough requests
                # for the interpreter, the caches and the server to settle.
                warm = worker.send(
                    "warm", requests=min(count, 100), every_tenant=first, run_length=run_length
                )
                fits = int(ROUND_SECONDS / max(warm["seconds_per_request"], 1e-6))
                counts[worker.key] = max(MIN_REQUESTS, min(count, fits))
            first, current_mode = False, mode
            rows += _rounds(
                group, server, plan, (size, mode, pattern), counts, bouncer_pid=bouncer_pid
            )
    return rows, setup


def _rounds(
    group: Sequence[Worker],
    server: Server,
    plan: Plan,
    phase: tuple[int, str, str],
    counts: dict[str, int],
    *,
    bouncer_pid: int | None = None,
) -> list[Row]:
    """Timed rounds, turn by turn over the workers; with the server's counts."""
    size, mode, pattern = phase
    run_length = 1 if pattern == ROUND_ROBIN else RUNS
    made = {w.key: Row(w.key, size, mode, pattern) for w in group}
    # Closed first, so that the server has flushed every session's statistics.
    for worker in group:
        worker.send("close")
    server.wait_idle()
    before = {w.key: server.counters(w.variant.database_stem) for w in group}
    for number in range(plan.rounds):
        shift = number % len(group)
        for worker in [*group[shift:], *group[:shift]]:
            stem = worker.variant.database_stem
            readable = mode in CPU_MODES and server.local
            through_bouncer = bouncer_pid is not None and mode == "pgbouncer transaction"
            extra = [bouncer_pid] if through_bouncer and bouncer_pid is not None else []
            cpu_before = _cpu_of([*server.backend_pids(stem), *extra]) if readable else {}
            reply = worker.send("round", requests=counts[worker.key], run_length=run_length)
            made[worker.key].add(reply)
            if readable:
                # Sessions opened in the round count whole (the first round of a phase
                # logs in: the median over the rounds leaves that out).
                cpu_after = _cpu_of({*cpu_before, *server.backend_pids(stem)})
                # A session that ended in the round would hide its CPU: then no figure.
                if cpu_after and cpu_before.keys() <= cpu_after.keys():
                    spent = sum(ns - cpu_before.get(pid, 0) for pid, ns in cpu_after.items())
                    made[worker.key].server_cpu_us.append(spent / 1000 / reply["requests"])
    for worker in group:
        worker.send("close")
    server.wait_idle()
    for worker in group:
        xacts, sessions = server.counters(worker.variant.database_stem)
        row = made[worker.key]
        row.server_xacts = xacts - before[worker.key][0]
        row.server_sessions = sessions - before[worker.key][1]
    return list(made.values())


# -- the report ---------------------------------------------------------------------------


def _kinds(row: Row) -> str:
    parts = [
        f"{row.per_request(n):.2f} {kind.lower()}"
        for kind, n in sorted(row.statements.items(), key=lambda item: (-item[1], item[0]))
    ]
    return ", ".join(parts) or "0"


def _sorted(rows: Iterable[Row]) -> list[Row]:
    order = {key: position for position, key in enumerate(VARIANTS)}
    mode_order = {mode: position for position, mode in enumerate(MODES)}
    return sorted(
        rows,
        key=lambda r: (mode_order[r.mode], order[r.key], r.pattern != ROUND_ROBIN, r.tenants),
    )


def _references(rows: Iterable[Row]) -> dict[tuple[int, str, str], Row]:
    return {(r.tenants, r.mode, r.pattern): r for r in rows if r.key == "plain"}


def render(rows: Sequence[Row], meta: dict[str, str], skipped: Sequence[str]) -> str:
    plain = _references(rows)
    lines = [
        "# Request benchmark: plain Django, omnitenant, django-tenants",
        "",
        *(f"- {name}: {value}" for name, value in meta.items()),
        "",
        "| variant | tenants | connections | requests | µs/request (median round) "
        "| µs (median request) | vs plain | statements/request | of which "
        "| server-side/request | new connections/request "
        "| CPU µs/request (client + server) | vs plain (CPU) |",
        "|---|---:|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in _sorted(rows):
        reference = plain.get((row.tenants, row.mode, row.pattern))
        sqlite = row.key == "omni_sqlite"
        if row is reference or reference is None:
            versus = "—"
        else:
            versus = f"{row.overhead(reference) * 100:+.0f}%"
            if sqlite:
                versus = f"({versus}) ¹"
        server = f"{row.server_per_request:.2f}" + (" ¹" if sqlite else "")
        cpu = (
            ""
            if row.cpu_us is None
            else f"{row.cpu_us:,.0f} ({statistics.median(row.client_cpu_us):,.0f} + "
            f"{statistics.median(row.server_cpu_us):,.0f})"
        )
        cpu_versus = None if reference is None or row is reference else row.cpu_overhead(reference)
        cpu_vs = "—" if cpu_versus is None else f"{cpu_versus * 100:+.1f}%"
        lines.append(
            f"| {VARIANTS[row.key].label} | {row.tenants:,} | {row.mode} | {row.pattern} "
            f"| {row.median_round_us:,.0f} | {row.median_request_us:,.0f} | {versus} "
            f"| {row.statements_per_request:.2f} | {_kinds(row)} | {server} "
            f"| {row.per_request(row.connections):.2f} | {cpu} | {cpu_vs} |"
        )
    lines += [
        "",
        "- **requests**: round-robin sends every request to the next tenant (so with "
        "persistent connections every request changes tenant); "
        f"runs of {RUNS} sends {RUNS} in a row to each tenant.",
        "- **µs/request (median round)**: the median over the rounds of a round's time / "
        "its requests; **µs (median request)**: the median of every single request's time "
        "(less sensitive to other processes taking the CPU). In-process, through Django's "
        "WSGI handler and the whole middleware stack. **connections**: `CONN_MAX_AGE=None` "
        "(persistent) or `0` (Django's default: a new connection for each request).",
        "- **vs plain**: median request against plain Django's median request of the same "
        "tenant count, connection mode and requests, measured in the same turns.",
        "- **statements/request**: counted inside psycopg, below Django: every execute on "
        "any cursor (raw ones included) and psycopg's own BEGIN/COMMIT/ROLLBACK: each one "
        "message and one round trip. omnitenant's path change travels inside the message of "
        "the statement it precedes (`SET search_path TO ...; <statement>`) and is not "
        "counted apart. **django pool** / **pgbouncer transaction**: the master through "
        "Django's psycopg pool (`CONN_MAX_AGE=0`) or a stock PgBouncer in transaction mode "
        "(persistent client connections), plain Django and omnitenant schemas only. "
        "**persistent affinity**: persistent, with omnitenant's connection affinity "
        "(`OMNITENANT_AFFINITY` = tenants + 1: a connection per tenant and the master's; "
        "plain Django's row is its persistent one).",
        "- **server-side/request**: PostgreSQL's own count (`pg_stat_database`): "
        "transactions minus sessions opened, per request (each autocommit statement is one "
        "transaction; each new connection commits one while it logs in).",
        "- **CPU µs/request**: CPU time, not elapsed time, per request, median over the "
        "rounds: the client process (`time.process_time`) plus the server processes of the "
        "variant's sessions and, through PgBouncer, PgBouncer's own (`/proc/<pid>/schedstat` "
        "before and after each round; a local server only, and only where the sessions "
        "outlive the round: persistent connections, Django's pool, PgBouncer). Time spent "
        "waiting for a CPU is not in it, so it moves far less with other load than the "
        "wall clock; what it misses is waiting itself (the network stack's wake-ups). "
        "**vs plain (CPU)**: against plain Django's in the same turns.",
        "- ¹ SQLite tenants: the statements are the ones SQLite ran in-process (Django runs "
        "three on every new SQLite connection: a `sqlite_compileoption_used()` check and "
        'two PRAGMAs); the server-side column only sees the PostgreSQL master; "vs plain" '
        "compares in-process SQLite with PostgreSQL over loopback.",
        *(f"- {note}" for note in skipped),
    ]
    return "\n".join(lines) + "\n"


def ratios(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Each tenant row against plain Django's of the same turns, three ways (for --json)."""
    plain = _references(rows)
    found = []
    for row in _sorted(rows):
        reference = plain.get((row.tenants, row.mode, row.pattern))
        if reference is None or row is reference:
            continue
        found.append(
            {
                "variant": row.key,
                "label": VARIANTS[row.key].label,
                "tenants": row.tenants,
                "mode": row.mode,
                "pattern": row.pattern,
                "median_request": row.overhead(reference),
                "round_by_round": row.round_overhead(reference),
                "cpu": row.cpu_overhead(reference),
                "statements_per_request": row.statements_per_request,
            }
        )
    return found


def render_targets(rows: Sequence[Row]) -> str:
    """Each tenant variant against plain Django, tenant count by tenant count."""
    plain = _references(rows)
    lines = [
        "## Against plain Django",
        "",
        "Extra statements per request (of which `SET`), extra time by the median request "
        "and by the median round ratio, for 10 / 100 / 1,000 tenants:",
        "",
    ]
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for row in _sorted(rows):
        reference = plain.get((row.tenants, row.mode, row.pattern))
        if reference is not None and row is not reference:
            groups.setdefault((row.key, row.mode, row.pattern), []).append(row)
    for (key, mode, pattern), members in groups.items():
        cells = []
        for row in members:
            reference = plain[(row.tenants, row.mode, row.pattern)]
            extra = row.statements_per_request - reference.statements_per_request
            by_request = row.overhead(reference) * 100
            by_round = row.round_overhead(reference) * 100
            cells.append(
                f"{row.tenants:,}: {extra:+.2f} ({row.sets_per_request:.2f} SET), "
                f"{by_request:+.0f}% / {by_round:+.0f}%"
            )
        lines.append(f"- {VARIANTS[key].label}, {mode}, {pattern}: " + "; ".join(cells))
    return "\n".join(lines) + "\n"


def render_setup(setup: dict[str, dict[int, dict[str, Any]]]) -> str:
    lines = [
        "## Setup",
        "",
        "Seconds. The first tenants are made through each library's API, the rest copied "
        "in bulk from what the library made (see bench/README.md); the request path only "
        "reads them.",
        "",
        "| variant | tenants | master database | made by the API | s/tenant (API) "
        "| copied in bulk | s (bulk) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, sizes in setup.items():
        for size, step in sizes.items():
            per_tenant = step["api_s"] / step["api_added"] if step["api_added"] else None
            lines.append(
                f"| {VARIANTS[key].label} | {size:,} | {step['prepare_s']:.1f} "
                f"| {step['api_added']} | {'—' if per_tenant is None else f'{per_tenant:.2f}'} "
                f"| {step['bulk_added']} | {step['bulk_s']:.1f} |"
            )
    return "\n".join(lines) + "\n"


# -- diagnostics ----------------------------------------------------------------------------


def profile(workers: Sequence[Worker], size: int, mode: str, requests: int) -> None:
    """cProfile each worker over the same requests; print the top functions."""
    for worker in workers:
        worker.send("grow", tenants=size)
        worker.send("mode", conn_max_age=MODES[mode], topology=TOPOLOGIES[mode])
        worker.send("warm", requests=max(requests, 100))
    for sort in ("tottime", "cumulative"):
        for worker in workers:
            reply = worker.send("profile", requests=requests, sort=sort)
            print(f"### {worker.key}: {size} tenants, connections {mode}, by {sort}\n")
            print(reply["report"])


def micro(workers: Sequence[Worker], size: int) -> None:
    """Each piece of the request path, timed alone, for each worker."""
    for worker in workers:
        worker.send("grow", tenants=size)
        worker.send("mode", conn_max_age=None)
        worker.send("warm", requests=200)
        reply = worker.send("micro")
        print(f"\n### {VARIANTS[worker.key].label} ({size} tenants, persistent connection)\n")
        print("| piece | µs (best of 5) |\n|---|---:|")
        for label, microseconds in reply["lines"]:
            print(f"| {label.strip()} | {microseconds:,.1f} |")


# -- main ---------------------------------------------------------------------------------


def start_pgbouncer() -> Any:
    """A stock PgBouncer in transaction mode, the test suite's own (tests/backends)."""
    sys.path.insert(0, str(ROOT))
    from tests.backends.pgbouncer import PgBouncer, pgbouncer_binary

    binary = pgbouncer_binary()
    if binary is None:
        raise WorkerError("pgbouncer is not installed (Debian package 'pgbouncer')")
    return PgBouncer(
        binary,
        pool_mode="transaction",
        server_port=int(os.environ.get("BENCH_PGPORT", "5432")),
        user=os.environ.get("BENCH_PGUSER", "postgres"),
        pool_size=4,
    )


def parse_arguments(argv: Iterable[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="10 and 100 tenants only")
    parser.add_argument("--tenants", help="comma-separated tenant counts (default 10,100,1000)")
    parser.add_argument(
        "--variants",
        default=",".join(DEFAULT_VARIANTS),
        help=f"comma-separated, of: {', '.join(VARIANTS)} (default: %(default)s)",
    )
    parser.add_argument(
        "--modes",
        default=",".join(DEFAULT_MODES),
        help=f"comma-separated, of: {', '.join(MODES)} (default: %(default)s); the pooled "
        f"modes run {', '.join(TOPOLOGY_VARIANTS)} only, 'pgbouncer transaction' through a "
        "stock PgBouncer this script starts (and stops) on a free loopback port",
    )
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds per row")
    parser.add_argument("--requests-persistent", type=int, default=200, metavar="N")
    parser.add_argument("--requests-per-request", type=int, default=40, metavar="N")
    parser.add_argument(
        "--pg-databases",
        type=int,
        default=100,
        metavar="N",
        help="at most N PostgreSQL database tenants (default %(default)s: here, each "
        "CREATE DATABASE takes ~0.1 s and each DROP DATABASE ~0.5 s)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown file")
    parser.add_argument("--no-output", action="store_true", help="print only")
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write each row's ratios to plain Django as JSON (bench:issue13 --repeat)",
    )
    parser.add_argument(
        "--profile",
        metavar="VARIANT",
        help="instead: cProfile VARIANT next to plain Django (first tenant count and mode)",
    )
    parser.add_argument(
        "--micro", action="store_true", help="instead: time each piece of the request path"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    keys = [key.strip() for key in args.variants.split(",") if key.strip()]
    if args.profile:
        keys = [args.profile]
    unknown = sorted(set(keys) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {sorted(VARIANTS)}")
    args.keys = ["plain", *(key for key in keys if key != "plain")]
    if args.tenants:
        args.sizes = [int(value) for value in args.tenants.split(",")]
    else:
        args.sizes = [10, 100] if args.quick else [10, 100, 1000]
    args.mode_list = [mode.strip() for mode in args.modes.split(",")]
    if set(args.mode_list) - set(MODES):
        parser.error(f"modes are {list(MODES)}")
    return args


def main(argv: Iterable[str] | None = None) -> int:
    args = parse_arguments(argv)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    scratch = Path(tempfile.mkdtemp(prefix=DATABASE_PREFIX))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        "BENCH_SQLITE_DIRECTORY": str(scratch / "sqlite"),
    }
    server = Server()
    if dropped := server.drop_scratch_databases():
        say(f"dropped {dropped} scratch database(s) left by an earlier run")
    started, load_before = time.monotonic(), os.getloadavg()
    plan = Plan(
        sizes=args.sizes,
        modes=args.mode_list,
        rounds=args.rounds,
        requests={
            "persistent": args.requests_persistent,
            "per request": args.requests_per_request,
            "django pool": args.requests_persistent,
            "pgbouncer transaction": args.requests_persistent,
            "persistent affinity": args.requests_persistent,
        },
        limits={"omni_pgdb": args.pg_databases},
    )
    workers: list[Worker] = []
    bouncer = None
    try:
        if "pgbouncer transaction" in plan.modes:
            bouncer = start_pgbouncer()
            env["BENCH_PGBOUNCER_PORT"] = str(bouncer.port)
            say(f"PgBouncer (transaction mode) on 127.0.0.1:{bouncer.port}, pid {bouncer.pid}")
        say(f"starting workers: {', '.join(args.keys)}")
        workers = [Worker(key, env, scratch) for key in args.keys]
        if args.profile:
            profile(workers, plan.sizes[0], plan.modes[0], args.requests_persistent)
            return 0
        if args.micro:
            micro(workers, plan.sizes[0])
            return 0
        rows, setup = measure(
            workers, server, plan, say, bouncer.pid if bouncer is not None else None
        )
    except WorkerError as exc:
        say(str(exc))
        return 1
    finally:
        say("stopping workers, dropping the scratch databases ...")
        for worker in workers:
            worker.stop()
        if bouncer is not None:
            bouncer.stop()
        server.wait_idle()
        server.drop_scratch_databases()
        shutil.rmtree(scratch, ignore_errors=True)

    import django
    import psycopg

    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{load_before[0]:.1f} before / {os.getloadavg()[0]:.1f} after",
        "software": f"Python {platform.python_version()}, Django {django.__version__}, "
        f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__}), "
        f"PostgreSQL {server.version()} over loopback TCP",
        "method": f"{plan.rounds} timed rounds per row, interleaved across variants; up to "
        f"{args.requests_persistent} requests per round with persistent connections, "
        f"{args.requests_per_request} with a connection per request (fewer for a slow row: "
        f"about {ROUND_SECONDS} s, at least {MIN_REQUESTS}); one warm-up request to every "
        "tenant first, and more before each phase (not measured)",
        "command": "hatch run bench:requests " + " ".join(sys.argv[1:]),
        **({"server": note} if (note := os.environ.get("BENCH_SERVER_NOTE")) else {}),
        "run time": f"{time.monotonic() - started:.0f} s",
    }
    skipped = []
    if "omni_pgdb" in args.keys and any(size > args.pg_databases for size in plan.sizes):
        skipped.append(
            f"PostgreSQL database tenants ran up to {args.pg_databases:,} tenants "
            f"(`--pg-databases`): past MAX_OPEN_TENANT_CONNECTIONS (32) every request opens "
            "a connection already, and 1,000 databases take minutes to create and drop here."
        )
    report = "\n".join([render(rows, meta, skipped), render_targets(rows), render_setup(setup)])
    print(report)
    if not args.no_output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        say(f"written to {args.output}")
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": ratios(rows)}, indent=1) + "\n")
        say(f"ratios written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
