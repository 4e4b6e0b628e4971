"""``manage.py fillwarmpool``: keep ``WARM_POOL_SIZE`` migrated schemas ready.

Drops pool schemas that lag behind the migrations and makes new ones (cloned from the
template, or migrated) until the pool holds ``--size`` (default ``WARM_POOL_SIZE``)
ready schemas. Run it after deploying and whenever tenants were created (a Celery beat
entry for ``omnitenant.fill_warm_pool`` does it on a schedule). ``migratealltenants``
refills the pool too.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omnitenant_backends.pool import fill_pool, pool_size
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

    def handle(self, *args: Any, **options: Any) -> None:
        size: int | None = options["size"]
        if size is not None and size < 0:
            raise CommandError("--size must be 0 or more.")
        try:
            if size is None and pool_size() == 0:
                self.stdout.write(
                    "The warm pool is off (OMNITENANT_CONFIG['WARM_POOL_SIZE'] is 0)."
                )
                return
            report = fill_pool(size)
        except OmnitenantError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Warm pool: {report.ready + report.made} ready ({report.made} made, "
                f"{report.dropped} stale dropped)."
            )
        )
