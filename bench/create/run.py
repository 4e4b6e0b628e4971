"""Tenant creation benchmark: omnitenant (warm pool, clone) and django-tenants, one run.

    hatch run bench:create                      # fleets of 10, 100 and 300 tenants
    hatch run bench:create --fleet 10,100,1000  # the full sweep (slow: django-tenants)
    hatch run bench:create --samples 5 --fleet 10,100   # quick

Variants, each in a scratch database of its own and a process of its own, with the
request benchmark's project (``reqbench``: contenttypes, auth and the ``notes`` app in
every tenant, the same apps for both tools; the migration count is printed):

- ``omni pool``: ``provisioning.create_tenant()`` with ``WARM_POOL_SIZE`` -- the schema
  is claimed from the warm pool (``fill_pool`` refills it between samples, untimed, and
  its cost per schema is reported apart: that work moves off the sign-up path);
- ``omni clone``: the same call with the pool off -- the template schema is copied;
- ``django-tenants``: ``Client(schema_name=...).save()``, its documented path (creates
  the schema and runs ``migrate_schemas`` for it).

For each fleet size F, the fleet is grown to F tenants (untimed, through the same path),
then ``--samples`` more creations are timed one by one (the creating call only, not the
process start-up): p50 and p90 in milliseconds. Then ``createtenant`` runs as a command
(``python -m django createtenant``, a new process each time) against the largest fleet,
with the time a process needs to start and ``django.setup()`` alone, so the command's
start-up share shows. All scratch databases (``bench_create_*``) are dropped at the end,
also on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
MIGRATE = BENCH / "migrate"
REQUESTS = BENCH / "requests"
PREFIX = "bench_create_"
SETTINGS = {"omni": "migbench.settings.omni", "dt": "migbench.settings.dt"}
VARIANTS = {"omni_pool": "omni", "omni_clone": "omni", "dt": "dt"}
LABELS = {
    "omni_pool": "omnitenant, warm pool",
    "omni_clone": "omnitenant, clone",
    "dt": "django-tenants",
}


def environment(variant: str, database: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(
                None,
                [str(MIGRATE), str(REQUESTS), str(BENCH.parent), os.environ.get("PYTHONPATH")],
            )
        ),
        "DJANGO_SETTINGS_MODULE": SETTINGS[VARIANTS[variant]],
        "BENCH_MIGRATE_DB": database,
    }


def server() -> Any:
    import psycopg

    return psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)


def drop_all() -> None:
    from psycopg import sql

    with server() as connection:
        names = [
            str(row[0])
            for row in connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (PREFIX.replace("_", "\\_") + "%",),
            ).fetchall()
        ]
        for name in names:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# -- the worker: one variant in one process ------------------------------------------------


def worker(variant: str, fleet: list[int], samples: int, result: Path) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db.migrations.loader import MigrationLoader
    from django.test import override_settings

    tool = VARIANTS[variant]
    if tool == "omni":
        call_command("migrate", interactive=False, verbosity=0)
        pool = samples if variant == "omni_pool" else 0
        config = {**settings.OMNITENANT_CONFIG, "WARM_POOL_SIZE": pool}
        override_settings(OMNITENANT_CONFIG=config).enable()
    else:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    tenant_apps = {"contenttypes", "auth", "notes"}
    migrations = sum(1 for app, _name in graph.nodes if app in tenant_apps)

    counter = 0

    def create() -> float:
        nonlocal counter
        counter += 1
        name = f"t{counter:05d}"
        started = time.perf_counter()
        if tool == "omni":
            from django_omnitenant import provisioning

            provisioning.create_tenant(name)
        else:
            from django_tenants.utils import get_tenant_model

            get_tenant_model()(schema_name=name, name=name).save(verbosity=0)
        return time.perf_counter() - started

    rows: list[dict[str, Any]] = []
    fill_seconds: list[float] = []
    for size in fleet:
        while counter < size:
            create()
        if variant == "omni_pool":
            from omnitenant_backends.pool import fill_pool

            started = time.perf_counter()
            made = fill_pool().made
            if made:
                fill_seconds.append((time.perf_counter() - started) / made)
        timings = [create() for _ in range(samples)]
        rows.append(
            {
                "fleet": size,
                "p50_ms": statistics.median(timings) * 1000,
                "p90_ms": statistics.quantiles(timings, n=10)[-1] * 1000,
            }
        )
    result.write_text(
        json.dumps(
            {
                "rows": rows,
                "migrations": migrations,
                "fill_ms": statistics.median(fill_seconds) * 1000 if fill_seconds else None,
                "tenants": counter,
            }
        )
    )


# -- the command, as a new process ---------------------------------------------------------


def command_timings(database: str, runs: int) -> dict[str, float]:
    """``createtenant`` as a process, and a process that only starts and sets Django up."""
    env = environment("omni_clone", database)
    startup: list[float] = []
    command: list[float] = []
    for index in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, check=True)
        startup.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-m", "django", "createtenant", f"--tenant-id=cmd{index:03d}",
             "--noinput"],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        command.append(time.perf_counter() - started)
    return {
        "startup_ms": statistics.median(startup) * 1000,
        "command_ms": statistics.median(command) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet", default="10,100,300", help="Fleet sizes (comma-separated).")
    parser.add_argument("--samples", type=int, default=10, help="Timed creations per size.")
    parser.add_argument("--command-runs", type=int, default=5, help="createtenant processes.")
    parser.add_argument("--worker", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    fleet = [int(part) for part in args.fleet.split(",")]
    if args.worker:
        worker(args.worker, fleet, args.samples, args.result)
        return

    from psycopg import sql

    results: dict[str, dict[str, Any]] = {}
    commands: dict[str, float] = {}
    drop_all()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for variant in VARIANTS:
                database = f"{PREFIX}{variant}_{os.getpid()}"
                with server() as connection:
                    connection.execute(
                        sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database))
                    )
                result = Path(scratch) / f"{variant}.json"
                subprocess.run(  # noqa: S603 - our own interpreter and script
                    [sys.executable, __file__, "--worker", variant, "--fleet", args.fleet,
                     "--samples", str(args.samples), "--result", str(result)],
                    env=environment(variant, database), check=True,
                )  # fmt: skip
                results[variant] = json.loads(result.read_text())
                if variant == "omni_clone":
                    commands = command_timings(database, args.command_runs)
    finally:
        drop_all()

    migrations = results["dt"]["migrations"]
    print(f"tenant migrations: {migrations}; {args.samples} timed creations per fleet size\n")
    print("| fleet | " + " | ".join(f"{LABELS[v]} p50 / p90 ms" for v in VARIANTS) + " |")
    print("|---:|" + "---:|" * len(VARIANTS))
    for index, size in enumerate(fleet):
        cells = []
        for variant in VARIANTS:
            row = results[variant]["rows"][index]
            cells.append(f"{row['p50_ms']:.1f} / {row['p90_ms']:.1f}")
        print(f"| {size} | " + " | ".join(cells) + " |")
    fill = results["omni_pool"]["fill_ms"]
    if fill is not None:
        print(f"\nfilling the pool (off the sign-up path): {fill:.1f} ms per schema")
    share = commands["startup_ms"] / commands["command_ms"]
    print(
        f"createtenant as a command (clone, fleet {fleet[-1]}+): {commands['command_ms']:.0f} ms "
        f"per process; starting Python + django.setup() alone: {commands['startup_ms']:.0f} ms "
        f"({share:.0%} of it)"
    )


if __name__ == "__main__":
    main()
