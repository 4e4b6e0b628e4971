"""``manage.py migratealltenants``: migrate every tenant, fast, and finish the rest when
one fails.

1. The schema template (when clones are on) is migrated first. It never blocks the
   fleet: when it cannot be migrated it is rebuilt from scratch, and when that fails
   too it is set aside (dropped; new tenants are then migrated instead of cloned). The
   run says which, and a template set aside makes the exit status non-zero once every
   tenant has had its turn.
2. Which tenants are up to date is read in one pass: one statement pair per database
   for all schema tenants, one query per database tenant; those are skipped without a
   ``migrate`` run (``--no-skip`` runs them all).
3. The others are migrated by ``--jobs`` worker processes. Each tenant is locked while
   it migrates (a PostgreSQL advisory lock, or a file lock when the master database is
   not PostgreSQL): a second run at the same time reports the tenant as locked instead of
   migrating it twice.
4. Only tenants in the states of ``MIGRATED_STATES`` (every state with storage: not
   ``provisioning`` or ``failed``) unless ``--include-state`` adds more; the first line
   of output names them.
5. The warm pool (``WARM_POOL_SIZE``) is refilled: pool schemas that lag behind are
   replaced by fresh ones.
6. A failing tenant is reported and the others go on. The summary counts every outcome
   and lists the failures; the exit status is non-zero when any tenant failed or was
   locked.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from django_omnitenant.constants import TenantStatus
from django_omnitenant.management._common import (
    add_state_argument,
    chosen_states,
    select_tenants,
)
from django_omnitenant.management._prompt import usage_error
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
from omnitenant_context import IsolationType, TenantContext

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
LOCKED = "locked"


@dataclass(frozen=True)
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
            "--jobs",
            "-j",
            type=_positive_int,
            default=1,
            help="Worker processes (default: 1; at least 1).",
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
            "--progress",
            choices=["auto", "bar", "lines"],
            default="auto",
            help="A progress bar on a terminal, one line per tenant otherwise (auto).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        jobs: int = options["jobs"]
        if jobs < 1:  # call_command() does not run the option's type on an int
            raise usage_error("--jobs must be at least 1.")
        started = time.monotonic()
        states = chosen_states(MIGRATED_STATES, options)
        tenants = select_tenants(options["tenant"], options["exclude"], statuses=states)
        self.stdout.write(f"Tenants in state: {', '.join(states)}.")
        if not tenants:
            self.stdout.write("No tenants to migrate.")
            return
        template_problem = self._migrate_template(options)
        pending, outcomes = self._split_up_to_date(tenants, force=options["no_skip"])
        migrate_options = {"fake": options["fake"], "fake_initial": options["fake_initial"]}
        skipped = sum(1 for outcome in outcomes if outcome.result == UP_TO_DATE)
        progress = _Progress(self.stdout, len(tenants), options["progress"], skipped)
        for outcome in outcomes:
            progress.record(outcome)
        for outcome in self._run(pending, migrate_options, jobs):
            outcomes.append(outcome)
            progress.record(outcome)
        progress.close()
        self._refill_pool()
        self._summary(outcomes, time.monotonic() - started, template_problem)

    # -- steps ------------------------------------------------------------------------

    def _migrate_template(self, options: dict[str, Any]) -> str:
        """Migrate (or rebuild, or set aside) the template; say what happened.

        Returns what must make the run fail at the end, or ``""``.
        """
        template = cloning_template()
        if template is None:
            return ""
        if not get_tenant_model().objects.filter(isolation_type=IsolationType.SCHEMA).exists():
            return ""
        try:
            refresh = refresh_schema_template(fake=options["fake"])
        except Exception as exc:  # reported, and the tenants still get their turn
            problem = f"schema template {template}: failed: {type(exc).__name__}: {exc}"
            self.stderr.write(problem)
            return problem
        if refresh.outcome == TemplateOutcome.REBUILT:
            self.stdout.write(
                f"schema template {template}: could not be migrated ({refresh.reason}); "
                "rebuilt from scratch."
            )
        elif refresh.outcome == TemplateOutcome.SET_ASIDE:
            problem = (
                f"schema template {template}: set aside (dropped): {refresh.reason}. New "
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
        try:
            report = fill_pool()
        except Exception as exc:
            raise CommandError(f"Refilling the warm pool failed: {exc}") from exc
        self.stdout.write(
            f"Warm pool: {report.ready + report.made} ready ({report.dropped} stale replaced)."
        )

    def _split_up_to_date(
        self, tenants: list[Any], *, force: bool
    ) -> tuple[list[Any], list[Outcome]]:
        if force:
            return tenants, []
        required = required_tenant_migrations()
        by_schema: dict[str, frozenset[tuple[str, str]]] | None = None
        pending: list[Any] = []
        done: list[Outcome] = []
        for tenant in tenants:
            if tenant.isolation_type == IsolationType.SCHEMA:
                if by_schema is None:
                    by_schema = applied_migrations_by_schema()
                applied = by_schema.get(tenant.schema_name, frozenset())
            else:
                try:
                    with TenantContext.use_tenant(tenant):
                        applied = applied_migrations_in_database(tenant_database_alias(tenant))
                except Exception as exc:  # reported in the summary; the others go on
                    done.append(Outcome(tenant.tenant_id, FAILED, 0.0, _describe(exc)))
                    continue
            if required <= applied:
                done.append(Outcome(tenant.tenant_id, UP_TO_DATE, 0.0))
            else:
                pending.append(tenant)
        return pending, done

    def _run(self, tenants: list[Any], options: dict[str, Any], jobs: int) -> Iterator[Outcome]:
        if not tenants:
            return
        ids = [tenant.tenant_id for tenant in tenants]
        if jobs == 1 or len(ids) == 1:
            for tenant_id in ids:
                yield migrate_one(tenant_id, options)
            return
        # Worker processes start from a copy of this one: close the connections first, or
        # the children would share (and on exit close) the parent's sockets.
        connections.close_all()
        context = multiprocessing.get_context("fork")
        with context.Pool(processes=min(jobs, len(ids)), initializer=_worker_start) as pool:
            yield from pool.imap_unordered(_migrate_one_packed, [(i, options) for i in ids])

    def _summary(self, outcomes: list[Outcome], seconds: float, template_problem: str) -> None:
        counts = {
            result: sum(1 for o in outcomes if o.result == result)
            for result in (UP_TO_DATE, MIGRATED, FAILED, LOCKED)
        }
        self.stdout.write("")
        self.stdout.write(f"{'result':<12} {'tenants':>7}")
        for result, count in counts.items():
            self.stdout.write(f"{result:<12} {count:>7}")
        self.stdout.write(f"{'total':<12} {len(outcomes):>7}   in {seconds:.2f} s")
        problems = sorted(
            (o for o in outcomes if o.result in (FAILED, LOCKED)), key=lambda o: o.tenant_id
        )
        if problems:
            self.stderr.write("")
            for outcome in problems:
                self.stderr.write(f"{outcome.tenant_id}: {outcome.result}: {outcome.error}")
            raise CommandError(
                f"{len(problems)} of {len(outcomes)} tenants were not migrated: "
                + ", ".join(o.tenant_id for o in problems)
                + (f"; and the {template_problem}" if template_problem else "")
            )
        if template_problem:
            raise CommandError(f"Every tenant was migrated, but the {template_problem}")


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _describe(exc: BaseException) -> str:
    # One line per tenant in the summary; a connection error's detail can span several.
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


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
            with backend.migration_scope() as alias:
                call_command(
                    "migrate",
                    database=alias,
                    interactive=False,
                    verbosity=0,
                    skip_checks=True,
                    **options,
                )
            tenant_migrated.send(sender=type(tenant), tenant=tenant)
    except Exception as exc:  # reported in the outcome and the summary
        return Outcome(tenant_id, FAILED, time.monotonic() - started, _describe(exc))
    return Outcome(tenant_id, MIGRATED, time.monotonic() - started)


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
    """A bar on a terminal; one line per tenant otherwise (logs, CI, pipes)."""

    def __init__(self, out: Any, total: int, mode: str, skipped: int) -> None:
        self.out = out
        self.total = total
        self.done = 0
        stream: TextIO = getattr(out, "_out", sys.stdout)
        self.bar = mode == "bar" or (mode == "auto" and stream.isatty())
        if skipped and not self.bar:
            out.write(f"{skipped} tenant(s) up to date, skipped.")

    def record(self, outcome: Outcome) -> None:
        self.done += 1
        if self.bar:
            filled = int(30 * self.done / self.total)
            self.out.write(
                f"\r[{'#' * filled}{' ' * (30 - filled)}] {self.done}/{self.total}", ending=""
            )
            self.out.flush()
        elif outcome.result != UP_TO_DATE:
            detail = f" ({outcome.seconds:.2f} s)" if outcome.result == MIGRATED else ""
            self.out.write(f"{outcome.tenant_id}: {outcome.result}{detail}")

    def close(self) -> None:
        if self.bar:
            self.out.write("")
