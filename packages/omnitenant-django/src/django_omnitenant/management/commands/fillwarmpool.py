"""``manage.py fillwarmpool``: keep ``WARM_POOL_SIZE`` migrated schemas ready.

Drops pool schemas that lag behind the migrations and makes new ones (cloned from the
template, or migrated) until the pool holds ``--size`` (default ``WARM_POOL_SIZE``)
ready schemas. Run it after deploying and whenever tenants were created (a Celery beat
entry for ``omnitenant.fill_warm_pool`` does it on a schedule). ``migratealltenants``
refills the pool too.

On a terminal a bar shows the schemas made so far (``--progress``); ``--format json``
prints one JSON object (``ready``, ``made``, ``dropped``) and nothing else on stdout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_omnitenant.management._progress import PROGRESS_CHOICES, ProgressBar, is_terminal
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
            raise CommandError("--size must be 0 or more.")
        try:
            wanted = pool_size() if size is None else size
            if size is None and wanted == 0:
                self._report(PoolReport(ready=0, dropped=0, made=0), as_json, off=True)
                return
            bar = None
            if not as_json and (
                options["progress"] == "bar"
                or (options["progress"] == "auto" and is_terminal(self.stdout))
            ):
                bar = ProgressBar(self.stdout, wanted, "warm pool")
            try:
                report = fill_pool(size, progress=None if bar is None else _drawer(bar))
            finally:
                if bar is not None:
                    bar.close()
        except OmnitenantError as exc:
            raise CommandError(str(exc)) from exc
        self._report(report, as_json)

    def _report(self, report: PoolReport, as_json: bool, *, off: bool = False) -> None:
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "ready": report.ready + report.made,
                        "made": report.made,
                        "dropped": report.dropped,
                        "off": off,
                    }
                )
            )
        elif off:
            self.stdout.write("The warm pool is off (OMNITENANT_CONFIG['WARM_POOL_SIZE'] is 0).")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Warm pool: {report.ready + report.made} ready ({report.made} made, "
                    f"{report.dropped} stale dropped)."
                )
            )


def _drawer(bar: ProgressBar) -> Callable[[PoolReport], None]:
    def draw(report: PoolReport) -> None:
        bar.update(
            report.ready + report.made,
            f"{report.dropped} stale dropped" if report.dropped else "",
        )

    return draw
