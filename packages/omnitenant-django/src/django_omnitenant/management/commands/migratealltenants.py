"""``manage.py migratealltenants``: migrate every tenant, fast, and finish the rest when
one fails.

1. The schema template (when clones are on) is migrated first, on every server that
   holds schema tenants (docs/scaling.md). It never blocks the fleet: when it cannot be
   migrated it is rebuilt from scratch, and when that fails too it is set aside (dropped;
   new tenants are then migrated instead of cloned). The run says which, and a template
   set aside makes the exit status non-zero once every tenant has had its turn.
2. Which tenants are up to date is read in one pass: per 1,000 schema tenants of a
   server one catalog query and one statement per 100 schemas (two chunks at a time,
   on two connections), one query per database tenant; those are skipped without a
   ``migrate`` run (``--no-skip`` runs them all). The tenants are small records, not
   model instances, and outcomes are counted, not kept: the command's memory does not
   grow with the fleet.
3. The others are migrated by ``--jobs`` worker processes (default: one per server of
   schema tenants among them, the servers' tenants taken in turn, so the servers work
   in parallel; with one server, none: the command migrates them in its own process).
   Each tenant is locked while it migrates (a PostgreSQL advisory lock, or a file lock
   when the master database is not PostgreSQL): a second run at the same time reports
   the tenant as locked instead of migrating it twice.
   Each worker migrates its tenants with the fleet executor
   (:mod:`omnitenant_backends.fleet_migrate`): the migration graph, the plan and the
   rendered states are prepared once per distinct migration state and reused by every
   tenant in that state; only the SQL and the ``RunPython`` code run per tenant.
   ``--executor django`` runs Django's ``migrate`` per tenant instead, and so does
   ``--fake-initial`` (the output says so). The plan of the fleet's usual state is
   prepared here before the workers are forked; tenants go to the workers server by
   server in turn, at most ``--jobs-per-server`` at once on one database server.
4. Only tenants in the states of ``MIGRATED_STATES`` (every state with storage: not
   ``provisioning`` or ``failed``) unless ``--include-state`` adds more; the first line
   of output names them.
5. The warm pool (``WARM_POOL_SIZE``) of every server is refilled: pool schemas that lag
   behind are replaced by fresh ones.
6. Deploy controls: ``--order`` (id, created, smallest storage first), ``--canary N``
   (those tenants first; any failure stops the run), ``--batch-size`` with ``--pause`` and
   ``--check CMD`` between batches (a failing check stops the run), ``--timeout`` (a
   statement timeout per tenant: the tenant is reported, the run goes on), ``--resume``
   (with a named target, skip tenants already there), ``--format json`` for CI.
7. A failing tenant is reported and the others go on. The summary counts every outcome
   and lists the failures; the exit status is non-zero when any tenant failed or was
   locked.
"""

from __future__ import annotations

import fcntl
import hashlib
import heapq
import json
import multiprocessing
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.loader import MigrationLoader

from django_omnitenant.conf import app_settings
from django_omnitenant.constants import TenantStatus
from django_omnitenant.management._common import add_state_argument, chosen_states
from django_omnitenant.management._fleet_tenants import FleetTenant, select_fleet
from django_omnitenant.management._progress import ProgressBar, is_terminal
from django_omnitenant.management._prompt import usage_error
from django_omnitenant.management._rollout import (
    ORDERS,
    non_negative_float,
    order_tenants,
    positive_float,
    positive_int,
    run_check,
    waves,
)
from django_omnitenant.management._servers import run_per_server, server_key
from django_omnitenant.placement import servers_in_use
from django_omnitenant.signals import tenant_migrated
from django_omnitenant.utils import get_tenant_backend, get_tenant_model
from omnitenant_backends import (
    TemplateOutcome,
    cloning_template,
    refresh_schema_template,
    tenant_database_alias,
)
from omnitenant_backends.conf import backend_settings
from omnitenant_backends.fleet import (
    applied_migrations_by_schema,
    applied_migrations_in_database,
    required_tenant_migrations,
)
from omnitenant_backends.fleet_migrate import (
    FleetMigrator,
    MigrationTargetError,
    describe_plan,
    discard_abandoned_transaction,
)
from omnitenant_backends.placement import UnknownServer, servers, tenant_server
from omnitenant_backends.postgresql.affinity import one_connection
from omnitenant_context import IsolationType, TenantContext
from omnitenant_context.observe import emit

# Every tenant whose storage exists: a suspended, marked or in-maintenance tenant that is
# served again must be at the current schema. Provisioning and failed tenants are left
# out (their storage is being made, or was removed); --include-state adds them.
MIGRATED_STATES = (
    TenantStatus.ACTIVE.value,
    TenantStatus.SUSPENDED.value,
    TenantStatus.MAINTENANCE.value,
    TenantStatus.MARKED_FOR_DELETION.value,
)

UP_TO_DATE = "up to date"
MIGRATED = "migrated"
FAILED = "failed"
TIMED_OUT = "timed out"
LOCKED = "locked"
NOT_STARTED = "not started"
RESULTS = (UP_TO_DATE, MIGRATED, FAILED, TIMED_OUT, LOCKED, NOT_STARTED)
PROBLEMS = (FAILED, TIMED_OUT, LOCKED, NOT_STARTED)
SLOWEST = 5
#: Tenants whose schemas' applied migrations are read (and let go) at a time: the run
#: holds one chunk's sets, not the fleet's.
TENANTS_PER_READ = 1000


@dataclass(frozen=True, slots=True)
class Outcome:
    tenant_id: str
    result: str
    seconds: float
    error: str = ""


class Command(BaseCommand):
    help = (
        "Migrate every tenant (or those chosen with --tenant / --exclude), skipping tenants "
        "that are up to date, in parallel with --jobs, continuing past failures. Exits "
        "non-zero if any tenant failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "app_label", nargs="?", help="Only this app's migrations, as migrate APP_LABEL."
        )
        parser.add_argument(
            "migration_name",
            nargs="?",
            help="Migrate APP_LABEL to this migration, backwards when applied (a "
            "rollback); 'zero' unapplies the app.",
        )
        parser.add_argument(
            "--executor",
            choices=["fleet", "django"],
            default="fleet",
            help="fleet (default): prepare each distinct migration state once; django: "
            "Django's migrate per tenant.",
        )
        parser.add_argument(
            "--plan",
            action="store_true",
            help="Show what would run, per group of tenants in the same state; change nothing.",
        )
        parser.add_argument(
            "--jobs",
            "-j",
            type=positive_int,
            default=None,
            help="Worker processes (at least 1; default: one per server holding schema "
            "tenants to migrate, so each server migrates its own in parallel).",
        )
        parser.add_argument(
            "--jobs-per-server",
            type=positive_int,
            metavar="N",
            help="At most N tenants migrate at once on one database server (HOST:PORT); "
            "tenants on other servers run beside them. Default: "
            "OMNITENANT_CONFIG['MIGRATE_JOBS_PER_SERVER'] (no limit but --jobs).",
        )
        parser.add_argument(
            "--tenant", action="append", default=[], help="Only this tenant; repeatable."
        )
        parser.add_argument(
            "--exclude", action="append", default=[], help="Skip this tenant; repeatable."
        )
        add_state_argument(parser, MIGRATED_STATES, verb="migrate")
        parser.add_argument(
            "--no-skip",
            action="store_true",
            help="Run migrate for every tenant, also those that look up to date.",
        )
        parser.add_argument("--fake", action="store_true", help="As migrate --fake.")
        parser.add_argument(
            "--fake-initial", action="store_true", help="As migrate --fake-initial."
        )
        parser.add_argument(
            "--order",
            choices=ORDERS,
            default="id",
            help="Rollout order: tenant id (default), creation time, or smallest first.",
        )
        parser.add_argument(
            "--canary",
            type=positive_int,
            metavar="N",
            help="Migrate the first N tenants first; stop if any of them fails.",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            metavar="N",
            help="Migrate the rest in batches of N, with --pause / --check in between.",
        )
        parser.add_argument(
            "--pause",
            type=non_negative_float,
            default=0.0,
            metavar="SECONDS",
            help="Wait this long between two batches (after the canary too).",
        )
        parser.add_argument(
            "--check",
            metavar="COMMAND",
            help="A shell command run between two batches; a non-zero exit stops the run.",
        )
        parser.add_argument(
            "--timeout",
            type=positive_float,
            metavar="SECONDS",
            help="Statement timeout per tenant (PostgreSQL); a tenant that hits it is "
            "reported as timed out and the run goes on.",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="With APP_LABEL [MIGRATION]: skip the tenants already at the target (those "
            "an interrupted run finished). Without, up-to-date tenants are always skipped.",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="json: one JSON object per tenant and one for the summary, for CI.",
        )
        parser.add_argument(
            "--progress",
            choices=["auto", "bar", "lines"],
            default="auto",
            help="A progress bar on a terminal, one line per tenant otherwise (auto).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        jobs: int | None = options["jobs"]
        if jobs is not None and jobs < 1:  # call_command() does not run the option's type
            raise usage_error("--jobs must be at least 1.")
        self._per_server = _jobs_per_server(options["jobs_per_server"])
        started = time.monotonic()
        self._json = options["format"] == "json"
        _migrators.clear()  # migrations on disk may have changed since a previous run
        _check_target(options["app_label"], options["migration_name"])
        states = chosen_states(MIGRATED_STATES, options)
        tenants = select_fleet(options["tenant"], options["exclude"], statuses=states)
        self._say(f"Tenants in state: {', '.join(states)}.")
        if not tenants:
            self._say("No tenants to migrate.")
            return
        migrate_options = {
            "app_label": options["app_label"],
            "migration_name": options["migration_name"],
            "fake": options["fake"],
            "fake_initial": options["fake_initial"],
            "executor": options["executor"],
            "timeout": options["timeout"],
        }
        if options["plan"]:
            self._show_plan(tenants, migrate_options)
            return
        if options["executor"] == "fleet" and options["fake_initial"]:
            self._say("Django's executor per tenant: --fake-initial introspects each tenant.")
        template_problem = self._migrate_template(options)
        # A named target (app, migration) may be behind the graph's leaves: every tenant
        # is looked at, not only those missing a migration.
        # (--resume skips those already at it).
        up_to_date: list[str] = []
        outcomes: list[Outcome] = []
        if options["app_label"] is not None and not options["no_skip"]:
            pending, up_to_date = (
                self._split_at_target(tenants, migrate_options)
                if options["resume"]
                else (tenants, [])
            )
        else:
            pending, up_to_date, outcomes = self._split_up_to_date(
                tenants, force=options["no_skip"]
            )
        pending = order_tenants(pending, options["order"])
        json_lines = options["format"] == "json"
        progress = _Progress(
            self.stdout,
            len(tenants),
            "json" if json_lines else options["progress"],
            len(up_to_date),
        )
        del tenants  # the pending ones are all the rest of the run needs
        # Outcomes are counted, not kept: a 10,000-tenant run holds its problems and its
        # slowest tenants, not 10,000 outcomes.
        tally = _Tally()
        for outcome in (
            *(Outcome(tenant_id, UP_TO_DATE, 0.0) for tenant_id in up_to_date),
            *outcomes,
        ):
            tally.add(outcome)
            progress.record(outcome)
        del up_to_date, outcomes
        stopped = ""
        rollout = waves(pending, canary=options["canary"], batch_size=options["batch_size"])
        for index, wave in enumerate(rollout):
            wave_outcomes: list[Outcome] = []
            for outcome in self._run(wave, migrate_options, jobs):
                wave_outcomes.append(outcome)
                tally.add(outcome)
                progress.record(outcome)
            stopped = self._between_waves(index, rollout, wave_outcomes, tally, options)
            if stopped:
                for tenant in (t for later in rollout[index + 1 :] for t in later):
                    outcome = Outcome(tenant.tenant_id, NOT_STARTED, 0.0, stopped)
                    tally.add(outcome)
                    progress.record(outcome)
                break
        progress.close()
        self._refill_pool()
        self._summary(
            tally, time.monotonic() - started, stopped, template_problem, json_lines=json_lines
        )

    def _between_waves(
        self,
        index: int,
        rollout: list[list[Any]],
        wave_outcomes: list[Outcome],
        tally: _Tally,
        options: Any,
    ) -> str:
        """Why the rollout stops after wave ``index``; empty to go on."""
        if index + 1 >= len(rollout):
            return ""
        if index == 0 and options["canary"]:
            failed = [o.tenant_id for o in wave_outcomes if o.result != MIGRATED]
            if failed:
                return f"stopped: the canary failed ({', '.join(sorted(failed))})"
        if options["pause"]:
            time.sleep(options["pause"])
        if options["check"]:
            ok, output = run_check(
                options["check"],
                wave=index + 1,
                migrated=tally.counts[MIGRATED],
                failed=tally.counts[FAILED] + tally.counts[TIMED_OUT] + tally.counts[LOCKED],
            )
            if not ok:
                return f"stopped: --check failed after wave {index + 1}: {output}"
        return ""

    def _say(self, line: str) -> None:
        # With --format json, stdout carries JSON objects only; the rest goes to stderr.
        (self.stderr if self._json else self.stdout).write(line)

    # -- steps ------------------------------------------------------------------------

    def _show_plan(self, tenants: list[FleetTenant], options: dict[str, Any]) -> None:
        """Group tenants by the plan they would run; one query per tenant, no change."""
        migrator = _migrator(options)
        groups: dict[tuple[str, ...], list[str]] = {}
        for tenant in tenants:
            backend = get_tenant_backend(tenant.model())
            with backend.migration_scope() as alias:
                try:
                    lines = tuple(describe_plan(migrator.plan(alias)))
                except MigrationTargetError as exc:
                    raise CommandError(str(exc)) from exc
            groups.setdefault(lines, []).append(tenant.tenant_id)
        for lines, tenant_ids in groups.items():
            self.stdout.write(f"{len(tenant_ids)} tenant(s): {', '.join(tenant_ids)}")
            for line in lines or ("No planned migration operations.",):
                self.stdout.write(f"  {line}")

    def _split_at_target(
        self, tenants: list[FleetTenant], options: dict[str, Any]
    ) -> tuple[list[FleetTenant], list[str]]:
        """Tenants with nothing to do for the named target are up to date (two queries each)."""
        migrator = _migrator(options)
        pending: list[FleetTenant] = []
        done: list[str] = []
        for tenant in tenants:
            with get_tenant_backend(tenant.model()).migration_scope() as alias:
                try:
                    plan = migrator.plan(alias)
                except MigrationTargetError as exc:
                    raise CommandError(str(exc)) from exc
            if plan:
                pending.append(tenant)
            else:
                done.append(tenant.tenant_id)
        return pending, done

    def _migrate_template(self, options: dict[str, Any]) -> str:
        """Migrate (or rebuild, or set aside) the template; say what happened.

        The template goes to the run's target (``APP_LABEL [MIGRATION]``) too. Returns
        what must make the run fail at the end, or ``""``.
        """
        template = cloning_template()
        if template is None:
            return ""
        master = backend_settings().master_database
        problems = [
            self._migrate_template_on(
                alias,
                template if alias == master else f"{template} on server {alias}",
                options,
            )
            for alias in servers_in_use()
        ]
        return "; ".join(problem for problem in problems if problem)

    def _migrate_template_on(self, alias: str, label: str, options: dict[str, Any]) -> str:
        """Migrate the template of one server (``label`` names it); say what happened."""
        target = {k: options[k] for k in ("app_label", "migration_name") if options[k]}
        try:
            refresh = refresh_schema_template(using=alias, fake=options["fake"], **target)
        except Exception as exc:  # reported, and the tenants still get their turn
            problem = f"schema template {label}: failed: {type(exc).__name__}: {exc}"
            self.stderr.write(problem)
            return problem
        if refresh.outcome == TemplateOutcome.REBUILT:
            self._say(
                f"schema template {label}: could not be migrated ({refresh.reason}); "
                "rebuilt from scratch."
            )
        elif refresh.outcome == TemplateOutcome.SET_ASIDE:
            problem = (
                f"schema template {label}: set aside (dropped): {refresh.reason}. New "
                "tenants are migrated instead of cloned until it can be made again."
            )
            self.stderr.write(problem)
            return problem
        return ""

    def _refill_pool(self) -> None:
        # The warm pool must be at the same migrations as the tenants: stale pool
        # schemas are replaced by freshly cloned ones.
        from omnitenant_backends.pool import fill_pool, pool_size  # noqa: PLC0415

        if pool_size() == 0:
            return
        master = backend_settings().master_database
        for alias in servers():
            where = "" if alias == master else f" of server {alias}"
            try:
                report = fill_pool(using=alias)
            except Exception as exc:
                raise CommandError(f"Refilling the warm pool{where} failed: {exc}") from exc
            self._say(
                f"Warm pool{where}: {report.ready + report.made} ready "
                f"({report.dropped} stale replaced)."
            )

    def _split_up_to_date(
        self, tenants: list[FleetTenant], *, force: bool
    ) -> tuple[list[FleetTenant], list[str], list[Outcome]]:
        """The tenants to migrate, the ids of those up to date, and those not readable."""
        if force:
            return tenants, [], []
        required = required_tenant_migrations()
        pending: list[FleetTenant] = []
        up_to_date: list[str] = []
        failed: list[Outcome] = []
        # Why a server's schemas cannot be read, once per server (not once per chunk).
        down: dict[str, str] = {}
        for chunk, applied_by_server in _read_in_pairs(tenants, down):
            for tenant in chunk:
                if tenant.isolation_type == IsolationType.SCHEMA:
                    server = tenant_server_or_none(tenant)
                    if server in down:
                        failed.append(Outcome(tenant.tenant_id, FAILED, 0.0, down[server]))
                        continue
                    # A schema without a django_migrations table is not in the map:
                    # nothing applied, so it is migrated (never guessed up to date).
                    applied = applied_by_server[server].get(tenant.schema_name, frozenset())
                else:
                    try:
                        instance = tenant.model()
                        with TenantContext.use_tenant(instance):
                            applied = applied_migrations_in_database(
                                tenant_database_alias(instance)
                            )
                    except Exception as exc:  # reported in the summary; the others go on
                        failed.append(Outcome(tenant.tenant_id, FAILED, 0.0, _describe(exc)))
                        continue
                if required <= applied:
                    up_to_date.append(tenant.tenant_id)
                else:
                    pending.append(tenant)
        return pending, up_to_date, failed

    def _run(
        self, tenants: list[FleetTenant], options: dict[str, Any], jobs: int | None
    ) -> Iterator[Outcome]:
        if not tenants:
            return
        # One worker per server among the tenants unless --jobs says otherwise: each
        # server migrates its own tenants in parallel with the others.
        tasks = [(_server_key(tenant), (tenant.tenant_id, options)) for tenant in tenants]
        if jobs is None:
            # One worker per server of schema tenants: with one server, as before, one.
            jobs = max(
                1,
                len(
                    {
                        server
                        for tenant, (server, _) in zip(tenants, tasks, strict=True)
                        if tenant.isolation_type == IsolationType.SCHEMA
                    }
                ),
            )
        if jobs == 1 or len(tenants) == 1:
            for tenant in tenants:
                yield migrate_one(tenant.tenant_id, options)
            return
        _prepare_before_fork(tenants[0].model(), options)
        # Worker processes start from a copy of this one: close the connections first, or
        # the children would share (and on exit close) the parent's sockets.
        connections.close_all()
        context = multiprocessing.get_context("fork")
        processes = min(jobs, len(tenants))
        with context.Pool(processes=processes, initializer=_worker_start) as pool:
            yield from run_per_server(
                pool, _migrate_one_packed, tasks, jobs=processes, per_server=self._per_server
            )

    def _summary(
        self,
        tally: _Tally,
        seconds: float,
        stopped: str,
        template_problem: str,
        *,
        json_lines: bool,
    ) -> None:
        counts = tally.counts
        total = sum(counts.values())
        slowest = tally.slowest()
        problems = sorted(tally.problems, key=lambda o: o.tenant_id)
        if json_lines:
            summary = {
                "summary": counts,
                "total": total,
                "seconds": round(seconds, 3),
                "slowest": [
                    {"tenant": o.tenant_id, "seconds": round(o.seconds, 3)} for o in slowest
                ],
                "stopped": stopped,
            }
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write("")
            self.stdout.write(f"{'result':<12} {'tenants':>7}")
            for result, count in counts.items():
                self.stdout.write(f"{result:<12} {count:>7}")
            self.stdout.write(f"{'total':<12} {total:>7}   in {seconds:.2f} s")
            if slowest:
                self.stdout.write(
                    "slowest: " + ", ".join(f"{o.tenant_id} {o.seconds:.2f} s" for o in slowest)
                )
        if stopped:
            self.stderr.write(stopped)
        if problems:
            self.stderr.write("")
            for outcome in problems:
                if outcome.result != NOT_STARTED:
                    self.stderr.write(f"{outcome.tenant_id}: {outcome.result}: {outcome.error}")
            raise CommandError(
                f"{len(problems)} of {total} tenants were not migrated: "
                + ", ".join(o.tenant_id for o in problems)
                + (f" ({stopped})" if stopped else "")
                + (f"; and the {template_problem}" if template_problem else "")
            )
        if template_problem:
            raise CommandError(f"Every tenant was migrated, but the {template_problem}")


def _read_schemas(
    chunk: list[FleetTenant], down: dict[str, str]
) -> dict[str, dict[str, frozenset[tuple[str, str]]]]:
    """The applied migrations of the chunk's schemas, per server; ``down`` gets the
    servers that cannot be read (their tenants fail, the others go on)."""
    schemas: dict[str, list[str]] = {}
    for tenant in chunk:
        if tenant.isolation_type == IsolationType.SCHEMA:
            schemas.setdefault(tenant_server_or_none(tenant), []).append(tenant.schema_name)
    applied: dict[str, dict[str, frozenset[tuple[str, str]]]] = {}
    for server, names in schemas.items():
        if server in down:
            continue
        try:
            applied[server] = applied_migrations_by_schema(using=server, schemas=names)
        except Exception as exc:  # a server down: its tenants fail, the others go on
            down[server] = _describe(exc)
    return applied


def _read_in_pairs(
    tenants: list[FleetTenant], down: dict[str, str]
) -> Iterator[tuple[list[FleetTenant], dict[str, dict[str, frozenset[tuple[str, str]]]]]]:
    """The tenants in chunks of :data:`TENANTS_PER_READ`, each with its schemas' applied
    migrations; two chunks at a time, the second read by a helper thread on a connection
    of its own (closed after the chunk).

    Reading a schema's table costs the server more than the client (it opens the table's
    catalog entries and file): two server processes read 10,000 schemas 1.3 to 1.6 times
    as fast as one (loaded machine). At most two chunks' sets are held at once.
    """
    chunks = [tenants[i : i + TENANTS_PER_READ] for i in range(0, len(tenants), TENANTS_PER_READ)]
    if len(chunks) < 2:
        for chunk in chunks:
            yield chunk, _read_schemas(chunk, down)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="omnitenant-read") as helper:
        for index in range(0, len(chunks), 2):
            pair = chunks[index : index + 2]
            # The helper's errors land in its own map, merged here (one writer).
            helper_down: dict[str, str] = dict(down)
            ahead = (
                helper.submit(_read_schemas_and_close, pair[1], helper_down)
                if len(pair) > 1
                else None
            )
            yield pair[0], _read_schemas(pair[0], down)
            if ahead is not None:
                applied = ahead.result()
                for server, error in helper_down.items():
                    down.setdefault(server, error)
                yield pair[1], applied


def _read_schemas_and_close(
    chunk: list[FleetTenant], down: dict[str, str]
) -> dict[str, dict[str, frozenset[tuple[str, str]]]]:
    try:
        return _read_schemas(chunk, down)
    finally:
        connections.close_all()  # this thread's connections only


class _Tally:
    """What the summary needs of every outcome: counts, the problems, the slowest."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(RESULTS, 0)
        self.problems: list[Outcome] = []
        # A min-heap of the SLOWEST longest runs: (seconds, order seen, outcome).
        self._slowest: list[tuple[float, int, Outcome]] = []
        self._seen = 0

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome.result] += 1
        if outcome.result in PROBLEMS:
            self.problems.append(outcome)
        if outcome.result in (UP_TO_DATE, NOT_STARTED, LOCKED):
            return
        # The order seen breaks ties: the first of equally slow tenants is kept, as a
        # stable sort of every outcome would.
        self._seen += 1
        entry = (outcome.seconds, -self._seen, outcome)
        if len(self._slowest) < SLOWEST:
            heapq.heappush(self._slowest, entry)
        else:
            heapq.heappushpop(self._slowest, entry)

    def slowest(self) -> list[Outcome]:
        return [entry[2] for entry in sorted(self._slowest, reverse=True)]


def _server_key(tenant: FleetTenant) -> str:
    # A database tenant's server is in its connection settings (its model instance).
    if tenant.isolation_type == IsolationType.DATABASE:
        return server_key(tenant.model())
    return server_key(tenant)


def tenant_server_or_none(tenant: Any) -> str:
    """The server of a schema tenant, or its unreadable name (reported as failed)."""
    try:
        return tenant_server(tenant)
    except UnknownServer:
        return f"unknown server {tenant.server!r}"


def _describe(exc: BaseException) -> str:
    # One line per tenant in the summary; a connection error's detail can span several.
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _jobs_per_server(option: int | None) -> int | None:
    """``--jobs-per-server``, or the setting without it; ``None``: no limit but --jobs."""
    if option is None:
        return app_settings().migrate_jobs_per_server
    if option < 1:  # call_command() does not run the option's type on an int
        raise usage_error("--jobs-per-server must be at least 1.")
    return option


def _check_target(app_label: str | None, migration_name: str | None) -> None:
    """Refuse an unknown app or migration before any tenant is touched."""
    if app_label is None:
        return
    loader = MigrationLoader(None, ignore_no_migrations=True)
    if app_label not in loader.migrated_apps:
        raise CommandError(f"App '{app_label}' does not have migrations.")
    if migration_name in (None, "zero"):
        return
    try:
        loader.get_migration_by_prefix(app_label, migration_name)
    except (AmbiguityError, KeyError) as exc:
        raise CommandError(
            f"No single migration of app '{app_label}' matches '{migration_name}'."
        ) from exc


def _prepare_before_fork(tenant: Any, options: dict[str, Any]) -> None:
    """Load the graph, build the plan and render its states here, once, before the fork.

    The workers are copies of this process: they start with the prepared plan of the
    fleet's usual migration state instead of each loading and rendering it again. Only
    reads (the tenant's applied migrations); a tenant in another state is prepared by
    the worker that meets it.
    """
    if options["executor"] != "fleet" or options["fake_initial"]:
        return
    try:
        with get_tenant_backend(tenant).migration_scope() as alias:
            _migrator(options).plan(alias)
    except Exception:
        # Not this run's failure to report: the worker that migrates this tenant meets
        # the same error and reports it as the tenant's outcome; the others go on.
        return


def _worker_start() -> None:
    # A forked worker must never touch the connections it inherited from its parent.
    for connection in connections.all(initialized_only=True):
        connection.connection = None


def _migrate_one_packed(arguments: tuple[str, dict[str, Any]]) -> Outcome:
    return migrate_one(*arguments)


def migrate_one(tenant_id: str, options: dict[str, Any]) -> Outcome:
    """Migrate one tenant under its lock; never raises, the outcome says what happened."""
    started = time.monotonic()
    try:
        with TenantContext.use_master_db():
            tenant = get_tenant_model().objects.get(tenant_id=tenant_id)
        with _tenant_lock(tenant_id) as locked:
            if not locked:
                return Outcome(
                    tenant_id, LOCKED, 0.0, "another run is migrating this tenant right now"
                )
            backend = get_tenant_backend(tenant)
            with backend.migration_scope() as alias, _statement_timeout(alias, options["timeout"]):
                try:
                    _migrate_in_scope(alias, options)
                except BaseException:
                    # The next tenant may share this connection: leave it clean.
                    discard_abandoned_transaction(alias)
                    raise
            tenant_migrated.send(sender=type(tenant), tenant=tenant)
    except Exception as exc:  # reported in the outcome and the summary
        result = TIMED_OUT if _is_statement_timeout(exc) else FAILED
        return Outcome(tenant_id, result, time.monotonic() - started, _describe(exc))
    return Outcome(tenant_id, MIGRATED, time.monotonic() - started)


def _migrate_in_scope(alias: str, options: dict[str, Any]) -> None:
    if options["executor"] == "fleet" and not options["fake_initial"]:
        _migrator(options).migrate(alias)
        return
    call_command(
        "migrate",
        *[a for a in (options["app_label"], options["migration_name"]) if a],
        database=alias,
        interactive=False,
        verbosity=0,
        skip_checks=True,
        fake=options["fake"],
        fake_initial=options["fake_initial"],
    )


@contextmanager
def _statement_timeout(alias: str, seconds: float | None) -> Iterator[None]:
    """``statement_timeout`` on the tenant's connection while it migrates (PostgreSQL).

    A session setting, set outside any transaction: a migration's rollback does not undo
    it, and it is reset before the connection serves the next tenant.
    """
    connection = connections[alias]
    if seconds is None or connection.vendor != "postgresql":
        yield
        return
    # Session state: every statement of the block on this one connection (affinity).
    with one_connection(connection):
        with connection.cursor() as cursor:
            milliseconds = f"{max(1, int(seconds * 1000))}ms"
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [milliseconds])
        try:
            yield
        finally:
            if connection.connection is not None and not connection.in_atomic_block:
                with connection.cursor() as cursor:
                    cursor.execute("RESET statement_timeout")


def _is_statement_timeout(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.errors.QueryCanceled):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# One migrator per process and set of options: its prepared plans (one per distinct
# migration state) serve every tenant this process migrates.
_migrators: dict[tuple[Any, ...], FleetMigrator] = {}


def _migrator(options: dict[str, Any]) -> FleetMigrator:
    key = (options["app_label"], options["migration_name"], options["fake"])
    migrator = _migrators.get(key)
    if migrator is None:
        migrator = FleetMigrator(
            app_label=options["app_label"],
            migration_name=options["migration_name"],
            fake=options["fake"],
        )
        _migrators.clear()  # plans of other options are never needed again
        _migrators[key] = migrator
    return migrator


@contextmanager
def _tenant_lock(tenant_id: str) -> Iterator[bool]:
    """Hold the migration lock of ``tenant_id``; yields whether it was acquired."""
    master = connections[backend_settings().master_database]
    key = int.from_bytes(
        hashlib.blake2b(f"omnitenant-migrate:{tenant_id}".encode(), digest_size=8).digest(),
        "big",
        signed=True,
    )
    if master.vendor == "postgresql":
        # A session lock: taken and released on one connection (affinity would otherwise
        # move the tenant's statements, and the unlock, to others).
        with one_connection(master):
            with master.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
                row = cursor.fetchone()
            acquired = bool(row and row[0])
            try:
                yield acquired
            finally:
                if acquired:
                    with master.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    path = Path(tempfile.gettempdir()) / f"omnitenant-migrate-{key & 0xFFFFFFFFFFFF:x}.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Progress:
    """A bar on a terminal; one line per tenant otherwise (logs, CI, pipes); with
    ``json``, one JSON object per tenant."""

    def __init__(self, out: Any, total: int, mode: str, skipped: int) -> None:
        self.out = out
        self.total = total
        self.done = 0
        self.problems = 0
        self.json = mode == "json"
        self.bar = (
            ProgressBar(out, total)
            if mode == "bar" or (mode == "auto" and is_terminal(out))
            else None
        )
        if skipped and self.bar is None and not self.json:
            out.write(f"{skipped} tenant(s) up to date, skipped.")

    def record(self, outcome: Outcome) -> None:
        # Every outcome passes here, in the parent process (workers may have no exporter).
        emit("fleet_migration", outcome.seconds, result=outcome.result)
        self.done += 1
        self.problems += outcome.result in PROBLEMS
        if self.json:
            line = {
                "tenant": outcome.tenant_id,
                "result": outcome.result,
                "seconds": round(outcome.seconds, 3),
            }
            if outcome.error:
                line["error"] = outcome.error
            self.out.write(json.dumps(line))
        elif self.bar is not None:
            self.bar.update(self.done, f"{self.problems} not migrated" if self.problems else "")
        elif outcome.result != UP_TO_DATE:
            detail = f" ({outcome.seconds:.2f} s)" if outcome.result == MIGRATED else ""
            self.out.write(f"{outcome.tenant_id}: {outcome.result}{detail}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
