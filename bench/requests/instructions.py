"""The request's cost in instructions, client and server: plain Django against omnitenant.

Wall and CPU time on a shared 2-core VM moved a row's ratio by about 15 points from one
run to the next (docs/performance.md), three times the ≤ +5 % target of issue 13. What a
request costs the machines does not move: this counts it under callgrind, in both
processes a request runs in.

* **Client**: each worker (``reqbench.worker``: plain Django, and omnitenant's schema
  tenants) runs under ``valgrind --tool=callgrind --cache-sim=yes``, instrumentation off
  except around one timed round (``callgrind_control -i on/off``, then a dump).
* **Server**: a PostgreSQL cluster of the bench's own (``tests/second_cluster.py``,
  autovacuum off, every scratch database analysed once its tenants exist) whose processes
  run under callgrind too, counting only inside the statement's own work
  (``--toggle-collect`` on the functions ``exec_simple_query`` calls: the transaction's
  start and commit, parse, analyse, plan, the portal's run, the command's end), so that
  what a backend does while it waits for the next message (statistics flushes on a timer,
  which under valgrind depend on how slow it runs) does not count. A backend's counts are
  written when it exits.

Every row is measured twice per variant, with ``K1`` and ``K2`` requests (each after its
own warm-up, on new connections), and reports the difference divided by ``K2 - K1``: what
a round costs once (the connection's first statements) drops out. The worker's full
garbage collection before a round runs before counting starts: it walks the whole heap,
and the heap's small differences between two rounds did not drop out (they moved a row by
up to a point). Two runs of the same code give the same server counts to within a few
hundred instructions per request, the client's to within a few thousand (about ±0.3
point of a row).

"Estimated cycles" weighs misses the way callgrind's documentation suggests for a rough
cycle count: instructions + 10 x mispredicted branches + 10 x first-level cache misses +
100 x last-level misses (of the simulated caches, sized like this machine's, and the
simulated branch predictor). It is the one figure here that sees memory traffic and
branches; it is an estimate, not a measurement.

Rows: 10 and 100 tenants, a persistent connection with every request switching tenant
and with runs of 10 requests per tenant, Django's psycopg pool (switching), and a stock
PgBouncer in transaction mode (switching), itself under callgrind and counted whole
during the round.

    hatch run bench:instructions                       # about 14 minutes
    hatch run bench:instructions --tenants 10 --requests 40,240 --rows pool

Needs valgrind (Debian's ``valgrind`` package, which brings ``callgrind_control``),
Debian's ``postgresql-15`` binaries and ``pgbouncer`` (installed when missing). Writes
``bench/results/instructions.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "bench" / "results" / "instructions.md"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from run import DATABASE_PREFIX, Server, Worker, WorkerError  # noqa: E402 - needs the path above

from tests.backends.pgbouncer import PgBouncer, pgbouncer_binary  # noqa: E402 - needs the path above
from tests.second_cluster import SecondCluster  # noqa: E402 - needs the path above

VARIANTS = ("plain", "omni_schema")
#: The functions exec_simple_query runs a statement with (exported by the server binary;
#: exec_simple_query itself is static, so not a name callgrind can see in a stripped
#: binary). Counting happens only while one of them is on the stack.
STATEMENT_FUNCTIONS = (
    "StartTransactionCommand",
    "CommitTransactionCommand",
    "pg_parse_query",
    "pg_analyze_and_rewrite_fixedparams",
    "pg_plan_queries",
    "CreatePortal",
    "PortalRun",
    "PortalDrop",
    "BeginCommand",
    "EndCommand",
)
#: (label, CONN_MAX_AGE, topology, requests in a row per tenant), by ROW_KEYS
ROWS = (
    ("persistent, every request switches", None, "direct", 1),
    ("persistent, runs of 10 per tenant", None, "direct", 10),
    ("persistent with affinity (k = tenants + 1), every request switches", None, "affinity", 1),
    ("Django's pool, every request switches", 0, "pool", 1),
    ("PgBouncer (transaction mode), every request switches", None, "pgbouncer", 1),
)
ROW_KEYS = ("switching", "runs", "affinity", "pool", "pgbouncer")
WARM_REQUESTS = 100
CALLGRIND_CONTROL = shutil.which("callgrind_control") or "callgrind_control"
EVENTS = ("Ir", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw", "Bcm", "Bim")
#: What both processes run under: the cache and branch simulations feed the estimate.
CALLGRIND = ("valgrind", "--tool=callgrind", "--cache-sim=yes", "--branch-sim=yes")


@dataclass(frozen=True)
class Counts:
    """Callgrind's event totals of one measured stretch."""

    events: dict[str, int]

    def __sub__(self, other: Counts) -> Counts:
        return Counts({key: self.events[key] - other.events[key] for key in EVENTS})

    def __add__(self, other: Counts) -> Counts:
        return Counts({key: self.events[key] + other.events[key] for key in EVENTS})

    def per(self, requests: int) -> tuple[float, float]:
        """(instructions, estimated cycles) per request."""
        e = self.events
        cycles = (
            e["Ir"]
            + 10 * (e["Bcm"] + e["Bim"])
            + 10 * (e["I1mr"] + e["D1mr"] + e["D1mw"])
            + 100 * (e["ILmr"] + e["DLmr"] + e["DLmw"])
        )
        return e["Ir"] / requests, cycles / requests


ZERO = Counts(dict.fromkeys(EVENTS, 0))


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


def read_totals(path: Path, timeout: float = 120.0) -> Counts:
    """The ``totals:`` of a callgrind output file, waiting for it to be written."""
    deadline = time.monotonic() + timeout
    while True:
        if path.exists():
            events: list[str] = []
            totals: list[int] = []
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("events:"):
                    events = line.split()[1:]
                elif line.startswith(("totals:", "summary:")):
                    totals = [int(value) for value in line.split()[1:]]
            if events and totals:
                found = dict(zip(events, totals, strict=False))
                return Counts({key: found.get(key, 0) for key in EVENTS})
        if time.monotonic() > deadline:
            pid = int(path.name.rsplit(".", 1)[-1]) if path.name.startswith("server.") else 0
            alive = pid > 0 and Path(f"/proc/{pid}").exists()
            raise WorkerError(
                f"callgrind wrote no totals to {path} within {timeout:.0f} s"
                + (f" (process {pid} still running: {_command_line(pid)})" if alive else "")
            )
        time.sleep(0.2)


class ProcessCounter:
    """Switches one process's instrumentation on and off and reads what it counted.

    The process runs under callgrind with ``--instr-atstart=no`` and
    ``--callgrind-out-file=<directory>/<name>.%p``. ``user``: the OS user it runs as, when
    not this one (valgrind's ``vgdb`` must be allowed to trace it: same user).
    """

    def __init__(self, pid: int, directory: Path, name: str, user: str | None = None) -> None:
        self.pid = pid
        self.directory = directory
        self.name = name
        self.user = user
        self.dumps = 0

    def _control(self, *arguments: str) -> None:
        done = subprocess.run(  # noqa: S603 - valgrind's own tool, a process we started
            [CALLGRIND_CONTROL, *arguments, str(self.pid)],
            capture_output=True,
            text=True,
            check=False,
            user=self.user,
            group=None if self.user is None else pwd.getpwnam(self.user).pw_gid,
            extra_groups=None if self.user is None else [],
        )
        if done.returncode != 0 or "Error" in done.stdout:
            raise WorkerError(
                f"callgrind_control {' '.join(arguments)}: {done.stdout}{done.stderr}"
            )

    def start(self) -> None:
        self._control("--zero")
        self._control("--instr=on")

    def stop(self) -> Counts:
        self._control("--instr=off")
        self._control("--dump")
        self.dumps += 1
        return read_totals(self.directory / f"{self.name}.{self.pid}.{self.dumps}")


class Pooler:
    """The PgBouncer of the PgBouncer row, under callgrind, and how to empty its pool."""

    def __init__(self, bouncer: PgBouncer, directory: Path) -> None:
        self.bouncer = bouncer
        self.counter = ProcessCounter(bouncer.pid, directory, "pgbouncer", bouncer.os_user)

    def drop_server_connections(self, database: str) -> None:
        """End PgBouncer's server sessions on ``database`` (so their backends exit)."""
        self.bouncer.admin(f'KILL "{database}"')
        self.bouncer.admin(f'RESUME "{database}"')


#: Per process (client, server, PgBouncer): counts of one round, or of the difference.
Row = tuple[Counts, Counts, Counts]


def measure_row(
    worker: Worker,
    *,
    client: ProcessCounter,
    server: Server,
    server_directory: Path,
    pooler: Pooler | None,
    conn_max_age: int | None,
    topology: str,
    run_length: int,
    requests: tuple[int, int],
) -> Row:
    """(client, server, PgBouncer) counts of ``requests[1] - requests[0]`` requests.

    ``server`` is the bench's own session on the cluster (it finds the worker's);
    ``pooler`` is counted only when the row goes through it.
    """
    through_pooler = pooler if topology == "pgbouncer" else None
    found: list[Row] = []
    for count in requests:
        worker.send("mode", conn_max_age=conn_max_age, topology=topology)
        worker.send("warm", requests=WARM_REQUESTS, run_length=run_length)
        # The round's full garbage collection first, uncounted: it walks the whole heap,
        # whose size differs a little from one round to the next, and that difference,
        # divided by K2 - K1, moved a row by up to a point (more at 100 tenants).
        worker.send("collect")
        client.start()
        if through_pooler is not None:
            through_pooler.counter.start()
        worker.send("round", requests=count, run_length=run_length, collect=False)
        client_counts = client.stop()
        pooler_counts = ZERO if through_pooler is None else through_pooler.counter.stop()
        pids = server.backend_pids(worker.variant.database_stem)
        if not pids:
            raise WorkerError(f"{worker.key}: no server session after the round")
        # Closing the connections (and the pool) ends the backends: callgrind writes then.
        worker.send("mode", conn_max_age=conn_max_age, topology=topology)
        if through_pooler is not None:
            # PgBouncer keeps its server sessions: end them too.
            through_pooler.drop_server_connections(
                f"{DATABASE_PREFIX}{worker.variant.database_stem}"
            )
        server_counts = ZERO
        for pid in pids:
            server_counts += read_totals(server_directory / f"server.{pid}")
        found.append((client_counts, server_counts, pooler_counts))
    low, high = found
    return high[0] - low[0], high[1] - low[1], high[2] - low[2]


def analyse_all(cluster: SecondCluster) -> None:
    """ANALYZE every scratch database (autovacuum is off: statistics must not change later)."""
    with cluster.connect() as admin:
        names = [
            str(row[0])
            for row in admin.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (DATABASE_PREFIX.replace("_", "\\_") + "%",),
            )
        ]
    for name in names:
        with cluster.connect(name) as connection:
            connection.execute("ANALYZE")


def _cpu_model() -> str:
    """The CPU's model (Linux: its name, family and model numbers), which counts depend on."""
    try:
        fields: dict[str, str] = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            fields.setdefault(name.strip(), value.strip())
    except OSError:
        return platform.processor() or "CPU model unknown"
    return (
        f"{fields.get('model name', 'CPU')} (family {fields.get('cpu family', '?')}, "
        f"model {fields.get('model', '?')})"
    )


def parse_arguments(argv: Iterable[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--tenants", default="10,100", help="comma-separated (default 10,100)")
    parser.add_argument(
        "--requests",
        default="40,140",
        help="K1,K2: requests in the two measured rounds of each row (default 40,140)",
    )
    parser.add_argument(
        "--rows",
        default=",".join(ROW_KEYS),
        help=f"comma-separated, of: {', '.join(ROW_KEYS)} (default: all)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown file")
    parser.add_argument("--no-output", action="store_true", help="print only")
    args = parser.parse_args(list(argv) if argv is not None else None)
    args.sizes = [int(value) for value in args.tenants.split(",")]
    try:
        low, high = (int(value) for value in args.requests.split(","))
    except ValueError:
        parser.error("--requests wants K1,K2: two whole numbers")
    if not 0 < low < high:
        parser.error("--requests wants K1,K2 with 0 < K1 < K2")
    args.counts = (low, high)
    wanted = [key.strip() for key in args.rows.split(",") if key.strip()]
    if not wanted or set(wanted) - set(ROW_KEYS):
        parser.error(f"--rows takes {', '.join(ROW_KEYS)}")
    args.rows = [row for key, row in zip(ROW_KEYS, ROWS, strict=True) if key in wanted]
    return args


Results = list[tuple[int, str, dict[str, Row]]]


def render(results: Results, requests: int, meta: dict[str, str]) -> str:
    lines = [
        "# A request's instructions, client and server: plain Django and omnitenant",
        "",
        *(f"- {name}: {value}" for name, value in meta.items()),
        "",
        "Per request: the worker process (client), the server's statement work "
        "(server) and, in its row, the whole PgBouncer process; est. cycles = "
        "instructions + 10 x mispredicted branches + 10 x L1 misses + 100 x last-level "
        "misses. The last column adds every process's estimated cycles.",
        "",
        "| tenants | connection, requests | client instr. plain | omnitenant | client "
        "est. cycles, omnitenant vs plain | server instr. plain | omnitenant | "
        "PgBouncer instr. plain | omnitenant | all processes, est. cycles vs plain |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tenants, label, by_variant in results:
        plain = [counts.per(requests) for counts in by_variant["plain"]]
        omni = [counts.per(requests) for counts in by_variant["omni_schema"]]
        (pc_ir, pc_cy), (ps_ir, _), (pp_ir, _) = plain
        (oc_ir, oc_cy), (os_ir, _), (op_ir, _) = omni
        pooler = f"{pp_ir:,.0f} | {op_ir:,.0f} ({op_ir / pp_ir - 1:+.1%})" if pp_ir else "— | —"
        both = sum(cycles for _, cycles in omni) / sum(cycles for _, cycles in plain) - 1
        lines.append(
            f"| {tenants:,} | {label} | {pc_ir:,.0f} | {oc_ir:,.0f} ({oc_ir / pc_ir - 1:+.1%}) "
            f"| {oc_cy / pc_cy - 1:+.1%} | {ps_ir:,.0f} | {os_ir:,.0f} | {pooler} | {both:+.1%} |"
        )
    return "\n".join(lines) + "\n"


def measure_all(
    workers: Sequence[Worker],
    *,
    cluster: SecondCluster,
    server_directory: Path,
    scratch: Path,
    pooler: Pooler | None,
    args: argparse.Namespace,
    say: Callable[[str], None],
) -> Results:
    """Every row at every tenant count, both variants."""
    results: Results = []
    counters = {worker.key: ProcessCounter(worker.pid, scratch, "client") for worker in workers}
    server = Server()  # one session for the whole run; its statements are not counted
    try:
        for tenants in args.sizes:
            say(f"{tenants} tenants: making them ...")
            for worker in workers:
                # Directly: through PgBouncer (the last row's topology), its server
                # sessions would outlive the worker's and never write their counts.
                worker.send("mode", conn_max_age=None, topology="direct")
                worker.send("grow", tenants=tenants)
            analyse_all(cluster)
            for worker in workers:
                # A first session after ANALYZE pays one-off costs (new statistics, cache
                # invalidations): spent here, outside every measured pair.
                worker.send("mode", conn_max_age=None, topology="direct")
                worker.send("warm", requests=WARM_REQUESTS)
                worker.send("mode", conn_max_age=None, topology="direct")
            for label, conn_max_age, topology, run_length in args.rows:
                by_variant = {}
                for worker in workers:
                    say(f"  {label}: {worker.key}")
                    by_variant[worker.key] = measure_row(
                        worker,
                        client=counters[worker.key],
                        server=server,
                        server_directory=server_directory,
                        pooler=pooler,
                        conn_max_age=conn_max_age,
                        topology=topology,
                        run_length=run_length,
                        requests=args.counts,
                    )
                results.append((tenants, label, by_variant))
                say(render([results[-1]], args.counts[1] - args.counts[0], {}).splitlines()[-1])
    finally:
        server.connection.close()
    return results


def start_cluster(server_directory: Path) -> SecondCluster:
    """A cluster whose processes run under callgrind, writing into ``server_directory``."""
    if os.geteuid() == 0:
        # The server's processes run as the postgres OS user.
        owner = pwd.getpwnam("postgres")
        os.chown(server_directory, owner.pw_uid, owner.pw_gid)
    return SecondCluster(
        f"bench-instructions-{os.getpid()}",
        settings={"autovacuum": "off", "shared_buffers": "128MB", "max_connections": "250"},
        wrapper=[
            *CALLGRIND,
            *(f"--toggle-collect={name}" for name in STATEMENT_FUNCTIONS),
            f"--callgrind-out-file={server_directory}/server.%p",
        ],
    )


def start_pooler(server_port: int, directory: Path) -> Pooler:
    """A stock PgBouncer in transaction mode in front of the cluster, under callgrind.

    Its counts go to ``directory`` (shared with the server's, writable by both users:
    PgBouncer drops root for ``nobody``).
    """
    binary = pgbouncer_binary()
    if binary is None:
        raise WorkerError("pgbouncer is not installed (Debian package 'pgbouncer')")
    if os.geteuid() == 0:
        directory.chmod(0o777)
    bouncer = PgBouncer(
        binary,
        pool_mode="transaction",
        server_port=server_port,
        user="postgres",
        pool_size=4,
        wrapper=[
            *CALLGRIND,
            "--instr-atstart=no",
            f"--callgrind-out-file={directory}/pgbouncer.%p",
        ],
    )
    return Pooler(bouncer, directory)


def main(argv: Iterable[str] | None = None) -> int:
    args = parse_arguments(argv)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    missing = [tool for tool in ("valgrind", "callgrind_control") if shutil.which(tool) is None]
    if missing:
        say(f"{', '.join(missing)} not found: install Debian's valgrind package.")
        return 2
    started, load_before = time.monotonic(), os.getloadavg()
    scratch = Path(tempfile.mkdtemp(prefix=DATABASE_PREFIX))
    # Not inside the scratch directory: that one only its owner may enter.
    server_directory = Path(tempfile.mkdtemp(prefix=f"{DATABASE_PREFIX}server_"))
    say("starting a PostgreSQL cluster under callgrind (slow to start) ...")
    try:
        cluster = start_cluster(server_directory)
    except RuntimeError as exc:
        say(str(exc))
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(server_directory, ignore_errors=True)
        return 1
    # run.Server (the sessions' pids) reads the port from the environment.
    os.environ["BENCH_PGPORT"] = str(cluster.port)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        "BENCH_PGPORT": str(cluster.port),
        "BENCH_SQLITE_DIRECTORY": str(scratch / "sqlite"),
        # Same string hashes in every run: dict and set layouts (probes, resizes) then
        # repeat, and so do the counts.
        "PYTHONHASHSEED": "0",
    }
    client_prefix = [
        *CALLGRIND,
        "--instr-atstart=no",
        f"--callgrind-out-file={scratch}/client.%p",
    ]
    workers: list[Worker] = []
    pooler: Pooler | None = None
    try:
        if any(topology == "pgbouncer" for _, _, topology, _ in args.rows):
            say("starting PgBouncer (transaction mode) under callgrind ...")
            pooler = start_pooler(cluster.port, server_directory)
            env["BENCH_PGBOUNCER_PORT"] = str(pooler.bouncer.port)
        workers = [Worker(key, env, scratch, prefix=client_prefix) for key in VARIANTS]
        results = measure_all(
            workers,
            cluster=cluster,
            server_directory=server_directory,
            scratch=scratch,
            pooler=pooler,
            args=args,
            say=say,
        )
    except (WorkerError, RuntimeError) as exc:
        say(str(exc))
        return 1
    finally:
        say("stopping the workers, PgBouncer and the cluster ...")
        for worker in workers:
            worker.stop()
        if pooler is not None:
            pooler.bouncer.stop()
        cluster.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(server_directory, ignore_errors=True)

    import django
    import psycopg

    low, high = args.counts
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {_cpu_model()}, {os.cpu_count()} CPUs (counts do "
        f"not depend on load: {load_before[0]:.1f} before / {os.getloadavg()[0]:.1f} after; "
        "they do on the CPU model: glibc picks its copy and string routines for it, and "
        "callgrind simulates its caches)",
        "software": f"Python {platform.python_version()}, Django {django.__version__}, "
        f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__}), PostgreSQL 15 "
        "(Debian's binaries) over loopback TCP, valgrind's callgrind",
        "method": f"each row: {high} requests minus {low} requests, each after "
        f"{WARM_REQUESTS} warm-up requests (and one to every tenant) on new connections",
        "command": "hatch run bench:instructions " + " ".join(sys.argv[1:]),
        "run time": f"{time.monotonic() - started:.0f} s",
    }
    report = render(results, high - low, meta)
    print(report)
    if not args.no_output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        say(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
