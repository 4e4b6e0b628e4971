"""Issue 13's table in one command: ``hatch run bench:issue13`` (see bench/README.md).

Checks the services first (PostgreSQL, Redis; PgBouncer is installed by step 1 when
missing), then runs the three steps one after the other, each in a process of its own,
and stops at the first that fails, saying which and exiting non-zero. Every step writes
its own file under ``bench/results/`` with its command, date, load average and run time.

    python bench/issue13.py             # the whole table
    python bench/issue13.py --step 2    # one step (1, 2 or 3)
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
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
            "--modes=persistent,per request,django pool,pgbouncer transaction",
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
            "--ops=1000",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--step", type=int, choices=range(1, len(STEPS) + 1), action="append")
    args = parser.parse_args(argv)
    chosen = args.step or list(range(1, len(STEPS) + 1))

    if missing := missing_services():
        print(f"issue13: not reachable: {'; '.join(missing)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    timings = []
    for number in chosen:
        title, command = STEPS[number - 1]
        print(f"issue13: step {number}/{len(STEPS)}: {title}", file=sys.stderr, flush=True)
        step_started = time.monotonic()
        result = subprocess.run([sys.executable, *command], cwd=ROOT, check=False)  # noqa: S603
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
    total = time.monotonic() - started
    print(
        f"issue13: done in {total:.0f} s ({', '.join(timings)}); results in {RESULTS}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
