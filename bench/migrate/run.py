"""Fleet migration benchmark: omnitenant's ``migratealltenants`` and django-tenants'
``migrate_schemas`` over the same number of schema tenants, on the same machine, in one run.

    hatch run bench:migrate                 # 200 tenants
    hatch run bench:migrate --quick         # 50 tenants
    hatch run bench:migrate --tenants 500
    hatch run bench:migrate --profile omni_j1          # cProfile, scenario A
    hatch run bench:migrate --profile omni_j1 --release   # cProfile, scenario B
    hatch run bench:migrate --tenants 1000 --dt-tenants 200 --scenarios ABCD
    hatch run bench:migrate --tenants 10000 --api-tenants 50 --variants omni_j1 --scenarios A

Variants: omnitenant ``--jobs 1`` and ``--jobs 2``; django-tenants 4.0.1 with its standard
executor and with ``--executor multiprocessing`` (``TENANT_MULTIPROCESSING_MAX_PROCESSES=2``).

1. For each tool, a scratch database (``bench_migrate_omni``, ``bench_migrate_dt``) gets its
   master schema and N tenants through the tool's own API (timed): omnitenant clones its
   template schema (``get_tenant_backend(t).create()``), django-tenants runs
   ``migrate_schemas`` for each new schema (``Client.save()``). With ``--api-tenants M``
   only omnitenant's first M tenants come from its API; the rest are bulk SQL copies of
   the first one (tenant rows by ``bulk_create``, tables by ``CREATE TABLE ... LIKE`` and
   ``INSERT ... SELECT``): 10,000 tenants through the API take hours on this machine.
2. Each variant gets its own copy of its tool's database (``CREATE DATABASE ... TEMPLATE``,
   e.g. ``bench_migrate_omni_j1``): every variant starts from the same state.
3. Scenario A, nothing to apply: each variant's command runs ``--runs`` times (default 3,
   the median counts), the runs interleaved across variants.
4. Scenario B, a release: ``MIGRATION_MODULES`` swaps in a ``notes`` migrations module with
   one more migration (``0002_release``, an ``AddIndex``); each variant applies it once to
   its own copy, and the run is checked: every tenant schema has it applied afterwards.
5. Scenario C, a rollback: each variant's command with ``notes 0001`` unapplies the
   release again, checked the same way (no schema has it afterwards).

Each row also gives the command process's peak resident memory (and, with ``--jobs 2`` /
multiprocessing, the largest worker's).

Every command runs in a fresh process (``migbench.worker``) with the tool's settings;
"seconds" is the command itself (``call_command`` in that process, as ``manage.py`` would
spend in it), "process s" adds the interpreter start and ``django.setup()``. The commands'
output goes to log files (default verbosity, as an operator runs them). All scratch
databases are dropped at the end, also on failure. The markdown table goes to stdout and
``bench/results/migrate.md``.
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REQUESTS = ROOT / "bench" / "requests"  # the request benchmark's models and apps (reused)
RESULTS = ROOT / "bench" / "results" / "migrate.md"
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REQUESTS))

from migbench.worker import VARIANTS  # noqa: E402 - needs the path above

#: Scratch databases start with it; another prefix lets two runs share the server.
PREFIX = os.environ.get("BENCH_MIGRATE_PREFIX", "bench_migrate_")
SETTINGS = {"omni": "migbench.settings.omni", "dt": "migbench.settings.dt"}
TOOLS = {"omni": "omnitenant", "dt": "django-tenants 4.0.1"}
#: Targets from the issue, printed next to the table.
TARGET_OMNI_A_SECONDS = 5.0
DT_EARLIER = "django-tenants was measured at 4.7 s for 50 tenants with nothing to apply"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class StepError(RuntimeError):
    pass


# -- the server ---------------------------------------------------------------------------


class Server:
    """Scratch databases on the benchmark's PostgreSQL server (autocommit, maintenance db)."""

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

    def version(self) -> str:
        row = self.connection.execute("SHOW server_version").fetchone()
        return "?" if row is None else str(row[0]).split()[0]

    def create(self, name: str, template: str | None = None) -> None:
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            # FILE_COPY: a copy of the files, seconds for thousands of relations.
            statement = sql.SQL("{} TEMPLATE {} STRATEGY FILE_COPY").format(
                statement, sql.Identifier(template)
            )
        self.connection.execute(statement)

    def drop_all(self) -> list[str]:
        from psycopg import sql

        names = [
            str(row[0])
            for row in self.connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY datname",
                (PREFIX.replace("_", "\\_") + "%",),
            ).fetchall()
        ]
        for name in names:
            self.connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        return names


# -- the steps (subprocesses) -------------------------------------------------------------


@dataclass
class Steps:
    """Runs ``migbench.worker`` steps; each one's output goes to a log of its own."""

    scratch: Path
    counter: int = 0

    def run(
        self, tool: str, database: str, arguments: Sequence[str], *, release: bool = False
    ) -> tuple[dict[str, Any], float]:
        self.counter += 1
        stem = f"{self.counter:03d}-{database.removeprefix(PREFIX)}-{arguments[0]}"
        result, log = self.scratch / f"{stem}.json", self.scratch / f"{stem}.log"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(HERE), str(REQUESTS), os.environ.get("PYTHONPATH")])
            ),
            "DJANGO_SETTINGS_MODULE": SETTINGS[tool],
            "BENCH_MIGRATE_DB": database,
            "BENCH_MIGRATE_RELEASE": "1" if release else "0",
        }
        started = time.perf_counter()
        with log.open("wb") as output:
            code = subprocess.call(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "migbench.worker", *arguments, "--result", str(result)],
                cwd=HERE,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        elapsed = time.perf_counter() - started
        if code != 0 or not result.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise StepError(f"{' '.join(arguments)} on {database} failed ({code}):\n{tail}")
        reply: dict[str, Any] = json.loads(result.read_text())
        return reply, elapsed


# -- measuring ----------------------------------------------------------------------------


@dataclass
class Row:
    variant: str
    scenario: str
    tenants: int
    seconds: list[float] = field(default_factory=list)
    process: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)

    def record(self, reply: dict[str, Any], elapsed: float) -> None:
        self.seconds.append(reply["seconds"])
        if reply.get("statements") is not None:
            self.statements.append(reply["statements"])
        self.process.append(elapsed)
        self.peak_mb.append(max(reply["peak_mb"], reply["peak_children_mb"]))

    @property
    def tool(self) -> str:
        return TOOLS[VARIANTS[self.variant][0]]

    @property
    def label(self) -> str:
        return VARIANTS[self.variant][1]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def database_of(variant: str) -> str:
    tool = VARIANTS[variant][0]
    return f"{PREFIX}{tool}_{variant.removeprefix(tool + '_')}"


def setup(
    steps: Steps,
    server: Server,
    tools: Iterable[str],
    counts: dict[str, int],
    api_tenants: int | None = None,
) -> dict[str, dict[str, float]]:
    made: dict[str, dict[str, float]] = {}
    for tool in tools:
        tenants = counts[tool]
        database = f"{PREFIX}{tool}"
        server.create(database)
        command = ["setup", "--tool", tool, "--tenants", str(tenants)]
        through_api = tenants
        if tool == "omni" and api_tenants is not None and api_tenants < tenants:
            command += ["--api-tenants", str(api_tenants)]
            through_api = max(1, api_tenants)
            say(
                f"{TOOLS[tool]}: master schema and {through_api} tenants through its API, "
                f"{tenants - through_api} more as bulk SQL copies of the first ..."
            )
        else:
            say(f"{TOOLS[tool]}: master schema and {tenants} tenants through its API ...")
        reply, _ = steps.run(tool, database, command)
        made[tool] = {**reply, "tenants": through_api}
        say(
            f"  {reply['tenants_s']:.1f} s for {through_api} tenants "
            f"({reply['tenants_s'] / through_api:.3f} s/tenant; the first "
            f"{reply['first_s']:.2f} s)"
        )
        if reply.get("bulk_tenants"):
            say(f"  {reply['bulk_s']:.1f} s for {reply['bulk_tenants']} bulk copies")
    return made


def measure(
    steps: Steps, variants: Sequence[str], counts: dict[str, int], runs: int, scenarios: str
) -> tuple[list[Row], dict[str, dict[str, Any]]]:
    def count(key: str) -> int:
        return counts[VARIANTS[key][0]]

    rows_a = {key: Row(key, "A: all up to date", count(key)) for key in variants}
    rows_b = {key: Row(key, "B: one new migration", count(key)) for key in variants}
    rows_c = {key: Row(key, "C: roll it back", count(key)) for key in variants}
    checks: dict[str, dict[str, Any]] = {}
    for number in range(runs):
        shift = number % len(variants)
        for key in [*variants[shift:], *variants[:shift]]:
            tool = VARIANTS[key][0]
            reply, elapsed = steps.run(tool, database_of(key), ["migrate", "--variant", key])
            rows_a[key].record(reply, elapsed)
            say(f"  A run {number + 1}/{runs}: {key:<12} {reply['seconds']:7.2f} s")
    if "B" not in scenarios:
        return list(rows_a.values()), checks
    for key in variants:
        tool = VARIANTS[key][0]
        database = database_of(key)
        before, _ = steps.run(tool, database, ["check"], release=True)
        reply, elapsed = steps.run(tool, database, ["migrate", "--variant", key], release=True)
        after, _ = steps.run(tool, database, ["check"], release=True)
        rows_b[key].record(reply, elapsed)
        say(
            f"  B: {key:<12} {reply['seconds']:7.2f} s; release applied in "
            f"{after['with_release']}/{after['schemas']} schemas (before: "
            f"{before['with_release']})"
        )
        command = ["migrate", "--variant", key, "--rollback"]
        reply, elapsed = steps.run(tool, database, command, release=True)
        rolled_back, _ = steps.run(tool, database, ["check"], release=True)
        rows_c[key].record(reply, elapsed)
        checks[key] = {"before": before, "after": after, "rolled_back": rolled_back}
        left = rolled_back["with_release"]
        say(f"  C: {key:<12} {reply['seconds']:7.2f} s; release left in {left} schemas")
        if after["with_release"] != after["schemas"] or before["with_release"] != 0:
            raise StepError(f"{key}: the release was not applied to every schema: {after}")
        if rolled_back["with_release"] or rolled_back["with_index"]:
            raise StepError(f"{key}: the rollback left the release behind: {rolled_back}")
    return [*rows_a.values(), *rows_b.values(), *rows_c.values()], checks


EMPTY = f"{PREFIX}omni_empty"
#: Scenario D's variant: every migration into empty schemas, as a deploy would run it.
EMPTY_VARIANT = "omni_j2"


def measure_from_empty(
    steps: Steps, server: Server, tenants: int
) -> tuple[Row, dict[str, Any], dict[str, Any]]:
    """Scenario D: N tenants with empty schemas, then every migration by the fleet run."""
    server.create(EMPTY)
    say(f"omnitenant: {tenants} tenants with empty schemas ...")
    command = ["setup", "--tool", "omni", "--tenants", str(tenants), "--empty"]
    made, _ = steps.run("omni", EMPTY, command)
    row = Row(EMPTY_VARIANT, "D: every migration, from empty", tenants)
    reply, elapsed = steps.run("omni", EMPTY, ["migrate", "--variant", EMPTY_VARIANT])
    row.record(reply, elapsed)
    after, _ = steps.run("omni", EMPTY, ["check"])
    say(
        f"  D: {EMPTY_VARIANT} {reply['seconds']:7.2f} s; {after['migration_rows']} migration "
        f"rows in {after['schemas']} schemas"
    )
    return row, made, after


# -- the report ---------------------------------------------------------------------------


def render(
    rows: Sequence[Row],
    made: dict[str, dict[str, float]],
    checks: dict[str, dict[str, Any]],
    meta: dict[str, str],
    tenants: int,
    *,
    empty: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> str:
    lines = [
        f"# Fleet migration benchmark: {tenants} schema tenants",
        "",
        *(f"- {name}: {value}" for name, value in meta.items()),
        "",
        "| tool | executor / jobs | scenario | tenants | seconds | seconds per tenant "
        "| runs | process s | peak MB | statements per tenant |",
        "|---|---|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        runs = (
            f"median of {len(row.seconds)} ({', '.join(f'{s:.2f}' for s in row.seconds)})"
            if len(row.seconds) > 1
            else "1 run"
        )
        statements = (
            f"{statistics.median(row.statements) / row.tenants:.1f}" if row.statements else ""
        )
        lines.append(
            f"| {row.tool} | {row.label} | {row.scenario} | {row.tenants} | {row.median:.2f} "
            f"| {row.median / row.tenants:.4f} | {runs} "
            f"| {statistics.median(row.process):.2f} | {max(row.peak_mb):.0f} | {statements} |"
        )
    lines += [
        "",
        "- **seconds**: the command alone (`call_command` in a fresh process, default "
        "verbosity, output to a log file); **process s**: the whole `python -m` process "
        "(interpreter start, `django.setup()`, the command, exit).",
        "- **A**: every tenant up to date, nothing to apply. **B**: one new migration in "
        "every tenant (`notes.0002_release`, `AddIndex` on a 10-row table), each variant on "
        "its own copy of the same database; one run per variant (a second run would be "
        "scenario A). Checked after each B run: the release is recorded in every schema "
        "with a `django_migrations` table (for omnitenant also its template schema). "
        "**C**: the release rolled back (`notes 0001`), checked: no schema keeps it.",
        "- **peak MB**: the largest peak resident set of the command's process or of one "
        "of its worker processes (`getrusage`).",
        "- **statements per tenant**: one-process variants only (`--jobs 1`, django-tenants' "
        "standard executor): every statement the "
        "command sent, the master's included, divided by the tenants; counted at the client "
        "(`execute_wrapper`), the shared server has no `pg_stat_statements`.",
        "- **D**: the tenants' schemas made empty (`create(run_migrations=False)`), then "
        "`migratealltenants --jobs 2` applies every migration (template schema included); "
        "compared below with creating the same number of tenants from the template.",
        "- Tenant schemas hold `contenttypes` (2 migrations), `auth` (12) and `notes` "
        "(1, 2 in B) in both tools.",
        f"- Target (issue 16): omnitenant, scenario A, 10,000 schema tenants in at most "
        f"{TARGET_OMNI_A_SECONDS:.0f} s. "
        f"Earlier: {DT_EARLIER}.",
        "",
        "## Creating the tenants (each tool's API, once per run)",
        "",
        "| tool | how | tenants | seconds | seconds per tenant | first tenant s "
        "| master schema s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    how = {
        "omni": "`Tenant.objects.create()` + `get_tenant_backend(t).create()` "
        "(clone of the template schema)",
        "dt": "`Client(schema_name=...).save()` (`migrate_schemas` per schema)",
    }
    for tool, step in made.items():
        count = int(step["tenants"])
        lines.append(
            f"| {TOOLS[tool]} | {how[tool]} | {count} | {step['tenants_s']:.1f} "
            f"| {step['tenants_s'] / count:.3f} | {step['first_s']:.2f} "
            f"| {step['master_s']:.2f} |"
        )
        if step.get("bulk_tenants"):
            bulk = int(step["bulk_tenants"])
            lines.append(
                f"| {TOOLS[tool]} | **bulk SQL copies** of the first tenant (`--api-tenants`: "
                f"tenant rows by `bulk_create`, each schema's tables by `CREATE TABLE ... "
                f"(LIKE ... INCLUDING ALL)` and `INSERT ... SELECT`), not the API | {bulk} "
                f"| {step['bulk_s']:.1f} | {step['bulk_s'] / bulk:.3f} | | |"
            )
    if empty is not None:
        made_empty, after = empty
        d_row = next(row for row in rows if row.scenario.startswith("D"))
        lines.append(
            f"| omnitenant | `create(run_migrations=False)` (empty schemas, scenario D) "
            f"| {d_row.tenants} | {made_empty['tenants_s']:.1f} "
            f"| {made_empty['tenants_s'] / d_row.tenants:.3f} | {made_empty['first_s']:.2f} "
            f"| {made_empty['master_s']:.2f} |"
        )
        if "omni" in made:
            template_s = made["omni"]["tenants_s"] * d_row.tenants / made["omni"]["tenants"]
            lines += [
                "",
                f"Scenario D: every migration into {d_row.tenants} empty schemas took "
                f"{d_row.median:.1f} s; creating as many tenants from the template took "
                f"{template_s:.1f} s: a ratio of {d_row.median / template_s:.2f} "
                f"(target: at most 2). After D: {after['migration_rows']} migration rows in "
                f"{after['schemas']} schemas.",
            ]
    if checks:
        lines += ["", "## Checks after scenario B", ""]
        for key, check in checks.items():
            after = check["after"]
            lines.append(
                f"- {key}: release applied in {after['with_release']} of {after['schemas']} "
                f"schemas (before the run: {check['before']['with_release']}); "
                f"release index in {after['with_index']} schemas; after the rollback: "
                f"{check['rolled_back']['with_release']} schemas, "
                f"{check['rolled_back']['with_index']} indexes"
            )
    return "\n".join(lines) + "\n"


def uptime() -> str:
    try:
        return subprocess.run(
            ["uptime"],  # noqa: S607 - the system's uptime, for the report
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average %.2f, %.2f, %.2f" % os.getloadavg()  # noqa: UP031


# -- main ---------------------------------------------------------------------------------


def parse_arguments(argv: Iterable[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--tenants", type=int, default=200, help="default %(default)s")
    parser.add_argument("--quick", action="store_true", help="50 tenants")
    parser.add_argument(
        "--dt-tenants",
        type=int,
        help="django-tenants' tenants (default: --tenants); its runs are slow under load",
    )
    parser.add_argument(
        "--scenarios",
        default="ABCD",
        help="A (up to date), B (new migration), C (rollback), D (from empty); default ABCD",
    )
    parser.add_argument("--runs", type=int, default=3, help="scenario A runs (median)")
    parser.add_argument(
        "--api-tenants",
        type=int,
        metavar="M",
        help="omnitenant: only the first M tenants through its API, the rest bulk SQL copies "
        "of the first (for 10,000 tenants; said in the report)",
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated, of: {', '.join(VARIANTS)} (default: all)",
    )
    parser.add_argument(
        "--profile",
        metavar="VARIANT",
        help="instead: set up that variant's tool and cProfile its command (scenario A)",
    )
    parser.add_argument("--release", action="store_true", help="--profile scenario B")
    parser.add_argument("--sort", default="cumulative", help="--profile: pstats sort key")
    parser.add_argument("--limit", type=int, default=45, help="--profile: lines")
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown file")
    parser.add_argument("--no-output", action="store_true", help="print only")
    parser.add_argument("--keep-logs", action="store_true", help="keep the commands' logs")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.quick:
        args.tenants = 50
    args.keys = [key.strip() for key in args.variants.split(",") if key.strip()]
    if args.profile:
        args.keys = [args.profile]
    unknown = sorted(set(args.keys) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {sorted(VARIANTS)}")
    return args


def profile(steps: Steps, server: Server, args: argparse.Namespace) -> None:
    key = args.profile
    tool = VARIANTS[key][0]
    setup(steps, server, [tool], {tool: args.tenants}, args.api_tenants)
    server.create(database_of(key), f"{PREFIX}{tool}")
    # One run first (as a warm-up for the server's caches), then the profiled one.
    steps.run(tool, database_of(key), ["migrate", "--variant", key])
    command = ["profile", "--variant", key, "--sort", args.sort, "--limit", str(args.limit)]
    reply, elapsed = steps.run(tool, database_of(key), command, release=args.release)
    print(f"## {key}, {args.tenants} tenants, scenario {'B' if args.release else 'A'}")
    print(f"(process: {elapsed:.2f} s)\n")
    print(reply["report"])


def main(argv: Iterable[str] | None = None) -> int:
    args = parse_arguments(argv)
    scratch = Path(tempfile.mkdtemp(prefix=PREFIX))
    steps = Steps(scratch)
    server = Server()
    if dropped := server.drop_all():
        say(f"dropped {len(dropped)} scratch database(s) left by an earlier run")
    started = time.monotonic()
    tools = list(dict.fromkeys(VARIANTS[key][0] for key in args.keys))
    counts = {"omni": args.tenants, "dt": args.dt_tenants or args.tenants}
    empty: tuple[dict[str, Any], dict[str, Any]] | None = None
    try:
        if args.profile:
            profile(steps, server, args)
            return 0
        made = setup(steps, server, tools, counts, args.api_tenants)
        for key in args.keys:
            server.create(database_of(key), f"{PREFIX}{VARIANTS[key][0]}")
        load_before = uptime()
        say(f"measuring; {load_before}")
        rows, checks = measure(steps, args.keys, counts, args.runs, args.scenarios)
        if "D" in args.scenarios:
            d_row, made_empty, after = measure_from_empty(steps, server, args.tenants)
            rows.append(d_row)
            empty = (made_empty, after)
        load_after = uptime()
    except StepError as exc:
        say(str(exc))
        return 1
    finally:
        say("dropping the scratch databases ...")
        server.drop_all()
        if args.keep_logs:
            say(f"logs kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    import django
    import psycopg

    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, shared with other runs",
        "load before the measurements": load_before.split("load average:")[-1].strip(),
        "load after": load_after.split("load average:")[-1].strip(),
        "software": f"Python {platform.python_version()}, Django {django.__version__}, "
        f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__}), "
        f"PostgreSQL {server.version()} over loopback TCP",
        "command": "hatch run bench:migrate " + " ".join(sys.argv[1:]),
        "run time": f"{time.monotonic() - started:.0f} s",
    }
    if made.get("omni", {}).get("bulk_tenants"):
        omni = made["omni"]
        meta["omnitenant's tenants"] = (
            f"{int(omni['api_tenants'])} through its API, {int(omni['bulk_tenants'])} "
            "**bulk SQL copies** of the first (`--api-tenants`, bench/README.md)"
        )
    report = render(rows, made, checks, meta, args.tenants, empty=empty)
    print(report)
    if not args.no_output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        say(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
