"""Issue 13's table in one command: ``hatch run bench:issue13`` (see bench/README.md).

Checks the services first (PostgreSQL, Redis; PgBouncer is installed by step 1 when
missing), then runs the three steps one after the other, each in a process of its own,
and stops at the first that fails, saying which and exiting non-zero. Every step writes
its own file under ``bench/results/`` with its command, date, load average and run time.

    python bench/issue13.py             # the whole table
    python bench/issue13.py --step 2    # one step (1, 2 or 3)
    python bench/issue13.py --pin       # client and server each on a core of their own
    python bench/issue13.py --pin --step 1 --repeat 5   # step 1 five times, and a summary

``--pin``: on this 2-core VM the client (Django, PgBouncer) and the PostgreSQL backend it
talks to take turns on whichever core is free, and the scheduler's choices moved a row by
about 15 points from one quiet run to the next. With ``--pin`` the bench starts a
PostgreSQL 15 cluster of its own (``tests/second_cluster.py``: initdb into a temporary
directory, a free loopback port, stopped and removed at the end), pins its postmaster and
every server process (backends inherit the postmaster's affinity) to the last CPU, and
runs the steps (and the PgBouncer they start) on the others. Plain Django and every
variant share the same server, so the ratios stay side by side.

``--repeat N`` runs step 1 N times, each with new worker processes (a process's memory
layout and hash seed move a row by a few points for its whole life), keeps each run's
report (``issue13-topologies-<k>.md``) and writes ``issue13-topologies-summary.md``: per
row, the median over the runs of its ratio to plain Django, with the lowest and highest.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

#: (what it measures, its command line). Sizes are the issue's (10 / 1,000 / 10,000
#: SQLite tenants); rounds and requests per round are what keeps the whole run to a few
#: minutes on a quiet 2-core machine while each row still has a median over several
#: interleaved rounds (bench/README.md says what each step costs).
STEPS: list[tuple[str, list[str]]] = [
    (
        "connection topologies (plain Django, omnitenant schemas, django-tenants)",
        [
            "bench/requests/run.py",
            "--tenants=10,100",
            "--variants=omni_schema,dt",
            "--modes=persistent,per request,django pool,pgbouncer transaction,persistent affinity",
            "--rounds=7",
            "--requests-persistent=100",
            "--requests-per-request=20",
            f"--output={RESULTS / 'issue13-topologies.md'}",
        ],
    ),
    (
        "database tenants at 10 / 1,000 / 10,000 in one process",
        [
            "bench/requests/run.py",
            "--tenants=10,1000,10000",
            "--variants=omni_sqlite,omni_pgdb",
            "--pg-databases=50",
            "--modes=persistent",
            "--rounds=5",
            "--requests-persistent=100",
            f"--output={RESULTS / 'issue13-database-tenants.md'}",
        ],
    ),
    (
        "the tenant-aware cache against Django's",
        [
            "bench/cache.py",
            "--rounds=3",
            "--ops=5000",
            "--require-redis",
            f"--output={RESULTS / 'issue13-cache.md'}",
        ],
    ),
]


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def missing_services() -> list[str]:
    pg_host = os.environ.get("BENCH_PGHOST", "127.0.0.1")
    pg_port = int(os.environ.get("BENCH_PGPORT", "5432"))
    missing = []
    if not _reachable(pg_host, pg_port):
        missing.append(f"PostgreSQL at {pg_host}:{pg_port} (BENCH_PGHOST / BENCH_PGPORT)")
    if not _reachable("127.0.0.1", 6379):
        missing.append("Redis at 127.0.0.1:6379")
    return missing


#: The pinned cluster's settings on top of the suite's (fsync off, small buffers): room
#: for the database-tenant step's 50 databases and every worker's connections.
PINNED_SETTINGS = {"shared_buffers": "256MB", "max_connections": "200"}


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (the postmaster's auxiliary processes)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # The command name sits in parentheses and may hold spaces: split after it.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


@contextlib.contextmanager
def pinned_cluster() -> Iterator[dict[str, str]]:
    """A cluster of our own on the last CPU, this process on the others; its env."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("issue13: --pin needs at least two CPUs")
    sys.path.insert(0, str(ROOT))
    from tests.second_cluster import SecondCluster

    cluster = SecondCluster(f"bench-issue13-{os.getpid()}", settings=PINNED_SETTINGS)
    try:
        postmaster = cluster.pid()
        assert postmaster is not None, "the cluster has no postmaster.pid after start"
        server_cpu, client_cpus = cpus[-1], cpus[:-1]
        for pid in [postmaster, *_children(postmaster)]:
            os.sched_setaffinity(pid, {server_cpu})
        os.sched_setaffinity(0, client_cpus)
        client_list = ",".join(map(str, client_cpus))
        print(
            f"issue13: own PostgreSQL on 127.0.0.1:{cluster.port} (postmaster {postmaster}) "
            f"pinned to CPU {server_cpu}; the bench on CPU {client_list}",
            file=sys.stderr,
            flush=True,
        )
        yield {
            "BENCH_PGHOST": "127.0.0.1",
            "BENCH_PGPORT": str(cluster.port),
            # bench/requests/run.py writes it into the report's header.
            "BENCH_SERVER_NOTE": (
                f"a PostgreSQL cluster of the bench's own (fsync off, shared_buffers "
                f"{PINNED_SETTINGS['shared_buffers']}) pinned to CPU {server_cpu}, the client "
                f"processes and PgBouncer to CPU {client_list} "
                "(`bench:issue13 --pin`)"
            ),
        }
    finally:
        os.sched_setaffinity(0, set(cpus))
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--step", type=int, choices=range(1, len(STEPS) + 1), action="append")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="a PostgreSQL cluster of the bench's own on the last CPU, the bench on the others",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run step 1 N times (new processes each time) and summarise its rows",
    )
    args = parser.parse_args(argv)
    chosen = args.step or list(range(1, len(STEPS) + 1))
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    with pinned_cluster() if args.pin else contextlib.nullcontext({}) as server_env:
        os.environ.update(server_env)
        return run_steps(chosen, repeat=args.repeat)


def _step_commands(number: int, repeat: int) -> list[list[str]]:
    """Step ``number``'s command line(s): step 1 once per repetition, with its own files."""
    command = STEPS[number - 1][1]
    if number != 1 or repeat == 1:
        return [command]
    commands = []
    for run in range(1, repeat + 1):
        stem = RESULTS / f"issue13-topologies-{run}"
        commands.append(
            [
                *(arg for arg in command if not arg.startswith("--output=")),
                f"--output={stem}.md",
                f"--json={stem}.json",
            ]
        )
    return commands


def _percent(value: float) -> str:
    return f"{value * 100:+.1f} %"


def summarise(repeat: int) -> Path:
    """The repeated step 1's rows: median, lowest and highest ratio over the runs."""
    runs = [
        json.loads((RESULTS / f"issue13-topologies-{run}.json").read_text())
        for run in range(1, repeat + 1)
    ]
    measures = ("median_request", "round_by_round", "cpu")
    by_row: dict[tuple[str, int, str, str], dict[str, list[float]]] = {}
    labels: dict[tuple[str, int, str, str], str] = {}
    for run in runs:
        for row in run["rows"]:
            key = (row["variant"], row["tenants"], row["mode"], row["pattern"])
            labels[key] = row["label"]
            values = by_row.setdefault(key, {measure: [] for measure in measures})
            for measure in measures:
                if row[measure] is not None:
                    values[measure].append(row[measure])

    def cell(values: list[float]) -> str:
        if not values:
            return "—"
        middle = statistics.median(values)
        return f"{_percent(middle)} [{_percent(min(values))} … {_percent(max(values))}]"

    lines = [
        f"# Issue 13, step 1 run {repeat} times: each row against plain Django",
        "",
        *(
            f"- run {number}: {run['meta']['date']}, {run['meta']['machine']}"
            for number, run in enumerate(runs, 1)
        ),
        f"- command: {runs[0]['meta']['command']}",
        *([f"- server: {runs[0]['meta']['server']}"] if "server" in runs[0]["meta"] else []),
        "",
        "Each cell: the median over the runs [lowest … highest] of the run's ratio to plain "
        "Django in the same turns, minus one. **median request**: the run's median request "
        "against plain's; **round by round**: the median over the turns of a round against "
        "plain's round of that turn; **CPU**: client and server CPU time per request "
        "against plain's (empty where the sessions do not outlive a round).",
        "",
        "| variant | tenants | connections | requests | median request | round by round | CPU |",
        "|---|---:|---|---|---|---|---|",
    ]
    for key, values in by_row.items():
        _, tenants, mode, pattern = key
        lines.append(
            f"| {labels[key]} | {tenants:,} | {mode} | {pattern} | "
            + " | ".join(cell(values[measure]) for measure in measures)
            + " |"
        )
    summary = RESULTS / "issue13-topologies-summary.md"
    summary.write_text("\n".join(lines) + "\n")
    return summary


def run_steps(chosen: list[int], *, repeat: int = 1) -> int:
    if missing := missing_services():
        print(f"issue13: not reachable: {'; '.join(missing)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    timings = []
    for number in chosen:
        title = STEPS[number - 1][0]
        print(f"issue13: step {number}/{len(STEPS)}: {title}", file=sys.stderr, flush=True)
        step_started = time.monotonic()
        for command in _step_commands(number, repeat):
            result = subprocess.run([sys.executable, *command], cwd=ROOT, check=False)  # noqa: S603
            if result.returncode != 0:
                break
        seconds = time.monotonic() - step_started
        if result.returncode != 0:
            print(
                f"issue13: step {number} ({title}) failed with exit code {result.returncode} "
                f"after {seconds:.0f} s; its output is above. Command: "
                f"{' '.join([sys.executable, *command])}",
                file=sys.stderr,
            )
            return 1
        timings.append(f"step {number}: {seconds:.0f} s")
        if number == 1 and repeat > 1:
            print(f"issue13: step 1's summary in {summarise(repeat)}", file=sys.stderr)
    total = time.monotonic() - started
    print(
        f"issue13: done in {total:.0f} s ({', '.join(timings)}); results in {RESULTS}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
