"""``manage.py fillwarmpool``: keep ``WARM_POOL_SIZE`` migrated schemas ready.

Drops pool schemas that lag behind the migrations and makes new ones (cloned from the
template, or migrated) until the pool holds ``--size`` (default ``WARM_POOL_SIZE``)
ready schemas. Run it after deploying and whenever tenants were created (a Celery beat
entry for ``omnitenant.fill_warm_pool`` does it on a schedule). ``migratealltenants``
refills the pool too. Each server that can hold schema tenants (docs/scaling.md) has a
pool of its own; ``--server`` fills one.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from django_omnitenant.management._prompt import usage_error
from omnitenant_backends.conf import backend_settings
from omnitenant_backends.placement import UnknownServer, check_server, servers
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
        parser.add_argument(
            "--server",
            metavar="ALIAS",
            help="Only this server's pool (a DATABASES alias; default: every server).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        size: int | None = options["size"]
        if size is not None and size < 0:
            raise usage_error("--size must be 0 or more.")
        try:
            chosen = (check_server(options["server"]),) if options["server"] else servers()
        except UnknownServer as exc:
            raise usage_error(str(exc)) from exc
        master = backend_settings().master_database
        try:
            if size is None and pool_size() == 0:
                self.stdout.write(
                    "The warm pool is off (OMNITENANT_CONFIG['WARM_POOL_SIZE'] is 0)."
                )
                return
            for alias in chosen:
                where = "" if alias == master else f" of server {alias}"
                try:
                    report = fill_pool(size, using=alias)
                except DatabaseError as exc:
                    raise CommandError(f"Filling the warm pool{where} failed: {exc}") from exc
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Warm pool{where}: {report.ready + report.made} ready "
                        f"({report.made} made, {report.dropped} stale dropped)."
                    )
                )
        except OmnitenantError as exc:
            raise CommandError(str(exc)) from exc
