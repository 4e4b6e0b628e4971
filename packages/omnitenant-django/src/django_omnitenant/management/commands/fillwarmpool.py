"""``manage.py fillwarmpool``: keep ``WARM_POOL_SIZE`` migrated schemas ready.

Drops pool schemas that lag behind the migrations and makes new ones (cloned from the
template, or migrated) until the pool holds ``--size`` (default ``WARM_POOL_SIZE``)
ready schemas. Run it after deploying and whenever tenants were created (a Celery beat
entry for ``omnitenant.fill_warm_pool`` does it on a schedule). ``migratealltenants``
refills the pool too. Each server that can hold schema tenants (docs/scaling.md) has a
pool of its own; ``--server`` fills one.

On a terminal a bar shows the schemas made so far (``--progress``); ``--format json``
prints one JSON object (``ready``, ``made``, ``dropped`` summed over the servers, and
``servers``: the same counts per server alias) and nothing else on stdout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from django_omnitenant.management._progress import PROGRESS_CHOICES, ProgressBar, is_terminal
from django_omnitenant.management._prompt import usage_error
from omnitenant_backends.conf import backend_settings
from omnitenant_backends.placement import UnknownServer, check_server, servers
from omnitenant_backends.pool import PoolReport, fill_pool, pool_size
from omnitenant_context import OmnitenantError


class Command(BaseCommand):
    help = (
        "Fill the warm pool of ready schemas for new schema tenants up to WARM_POOL_SIZE "
        "(or --size), replacing pool schemas that lag behind the migrations."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--size",
            type=int,
            help="Schemas to keep ready (default: OMNITENANT_CONFIG['WARM_POOL_SIZE']).",
        )
        parser.add_argument(
            "--server",
            metavar="ALIAS",
            help="Only this server's pool (a DATABASES alias; default: every server).",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="json: one JSON object with the counts, for scripts and CI.",
        )
        parser.add_argument(
            "--progress",
            choices=PROGRESS_CHOICES,
            default="auto",
            help="A progress bar: on a terminal (auto), always (bar) or never (none).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        size: int | None = options["size"]
        as_json = options["format"] == "json"
        if size is not None and size < 0:
            raise usage_error("--size must be 0 or more.")
        try:
            chosen = (check_server(options["server"]),) if options["server"] else servers()
        except UnknownServer as exc:
            raise usage_error(str(exc)) from exc
        master = backend_settings().master_database
        reports: dict[str, PoolReport] = {}
        try:
            wanted = pool_size() if size is None else size
            if size is None and wanted == 0:
                self._report({}, as_json, master=master, off=True)
                return
            for alias in chosen:
                where = "" if alias == master else f" of server {alias}"
                draw_bar = not as_json and (
                    options["progress"] == "bar"
                    or (options["progress"] == "auto" and is_terminal(self.stdout))
                )
                bar = ProgressBar(self.stdout, wanted, f"warm pool{where}") if draw_bar else None
                try:
                    reports[alias] = fill_pool(
                        size, using=alias, progress=None if bar is None else _drawer(bar)
                    )
                except DatabaseError as exc:
                    raise CommandError(f"Filling the warm pool{where} failed: {exc}") from exc
                finally:
                    if bar is not None:
                        bar.close()
        except OmnitenantError as exc:
            raise CommandError(str(exc)) from exc
        self._report(reports, as_json, master=master)

    def _report(
        self, reports: dict[str, PoolReport], as_json: bool, *, master: str, off: bool = False
    ) -> None:
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "ready": sum(r.ready + r.made for r in reports.values()),
                        "made": sum(r.made for r in reports.values()),
                        "dropped": sum(r.dropped for r in reports.values()),
                        "off": off,
                        "servers": {alias: _counts(r) for alias, r in reports.items()},
                    }
                )
            )
        elif off:
            self.stdout.write("The warm pool is off (OMNITENANT_CONFIG['WARM_POOL_SIZE'] is 0).")
        else:
            for alias, report in reports.items():
                where = "" if alias == master else f" of server {alias}"
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Warm pool{where}: {report.ready + report.made} ready "
                        f"({report.made} made, {report.dropped} stale dropped)."
                    )
                )


def _counts(report: PoolReport) -> dict[str, int]:
    return {"ready": report.ready + report.made, "made": report.made, "dropped": report.dropped}


def _drawer(bar: ProgressBar) -> Callable[[PoolReport], None]:
    def draw(report: PoolReport) -> None:
        bar.update(
            report.ready + report.made,
            f"{report.dropped} stale dropped" if report.dropped else "",
        )

    return draw
