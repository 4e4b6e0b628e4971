"""``manage.py dumptenant``: write one tenant to a portable archive file.

The archive holds the tenant's rows, the migrations applied to it and a count and a
checksum per table; ``loadtenant`` makes a new tenant from it (here or in another
environment, on any isolation type). See :mod:`django_omnitenant.archives`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_omnitenant import archives
from django_omnitenant.management._common import add_tenant_argument, get_tenant_or_fail
from omnitenant_backends.copying import TableCopy
from omnitenant_context import OmnitenantError


class Command(BaseCommand):
    help = "Write a tenant's rows and migration state to one archive file (see loadtenant)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_tenant_argument(parser)
        parser.add_argument("-o", "--output", required=True, metavar="FILE", help="The archive.")
        parser.add_argument(
            "--force", action="store_true", help="Replace FILE if it exists already."
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="'text' (progress, default) or 'json' (one report object).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant_or_fail(options["tenant"])
        path = Path(options["output"])
        if path.exists() and not options["force"]:
            raise CommandError(f"{str(path)!r} exists already; pass --force to replace it.")
        if not path.parent.is_dir():
            raise CommandError(f"The folder {str(path.parent)!r} does not exist.")
        as_json = options["format"] == "json"
        try:
            report = archives.dump_tenant(tenant, path, progress=None if as_json else self._show)
        except (OmnitenantError, OSError) as exc:
            raise CommandError(f"Dumping tenant {tenant.tenant_id!r} failed: {exc}") from exc
        if as_json:
            summary = {"tenant": tenant.tenant_id, "file": str(path), **report.as_dict()}
            self.stdout.write(json.dumps(summary))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Dumped tenant {tenant.tenant_id!r} to {str(path)!r}: {report.rows} rows in "
                f"{len(report.tables)} tables."
            )
        )

    def _show(self, table: TableCopy) -> None:
        self.stdout.write(f"  {table.table}: {table.rows} rows")
