"""``manage.py loadtenant``: create a new tenant from an archive of ``dumptenant``.

All or nothing: the archive's migration state must be the one a new tenant gets here,
and every table must load with the archive's row count and checksum; otherwise nothing
is created. See :mod:`django_omnitenant.archives`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_omnitenant import archives
from django_omnitenant.management._database_options import (
    DATABASE_OPTIONS,
    add_database_arguments,
    database_config,
)
from django_omnitenant.management._domains import free_domains
from django_omnitenant.management._prompt import usage_error
from django_omnitenant.utils import get_tenant_model
from django_omnitenant.validators import validate_tenant_id
from omnitenant_backends.copying import TableCopy
from omnitenant_context import IsolationType, OmnitenantError, TenantContext


class Command(BaseCommand):
    help = "Create a new tenant from an archive written by dumptenant, all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", metavar="FILE", help="The archive to load.")
        parser.add_argument("--tenant-id", required=True, help="The new tenant's id.")
        parser.add_argument("--name", help="Display name (default: the archived tenant's).")
        parser.add_argument(
            "--domain",
            action="append",
            dest="domains",
            default=[],
            metavar="HOST",
            help="A host that serves the new tenant; repeat for several. The first is primary.",
        )
        parser.add_argument(
            "--isolation-type",
            choices=[member.value for member in IsolationType],
            default=IsolationType.SCHEMA.value,
            help="Where the new tenant's data lives: 'schema' (default) or 'database'.",
        )
        parser.add_argument(
            "--server",
            metavar="ALIAS",
            help="Schema tenants: the DATABASES alias of the PostgreSQL server that holds the "
            "schema (default: chosen by OMNITENANT_CONFIG['PLACEMENT_POLICY']).",
        )
        add_database_arguments(parser)
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="'text' (progress, default) or 'json' (one report object).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant_id: str = options["tenant_id"]
        try:
            validate_tenant_id(tenant_id)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        path = Path(options["archive"])
        if not path.is_file():
            raise CommandError(f"There is no file {str(path)!r}.")
        with TenantContext.use_master_db():
            if get_tenant_model().objects.filter(tenant_id=tenant_id).exists():
                raise CommandError(f"A tenant {tenant_id!r} exists already.")
        isolation = options["isolation_type"]
        given = [f"--{key.replace('_', '-')}" for key in DATABASE_OPTIONS if options[key]]
        if isolation == IsolationType.SCHEMA and given:
            raise usage_error(f"{', '.join(given)} only apply to --isolation-type database.")
        if isolation == IsolationType.DATABASE and options["server"]:
            raise usage_error("--server only applies to schema tenants.")
        config = database_config(options) if isolation == IsolationType.DATABASE else None
        domains = self._domains(options["domains"])
        as_json = options["format"] == "json"
        try:
            tenant, report = archives.load_tenant(
                path,
                tenant_id,
                domains=domains,
                name=options["name"] or "",
                isolation_type=isolation,
                server=options["server"] or "",
                database_config=config,
                progress=None if as_json else self._show,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except OmnitenantError as exc:
            raise CommandError(f"Loading {str(path)!r} failed; nothing was created: {exc}") from exc
        if as_json:
            self.stdout.write(json.dumps({"tenant": tenant.tenant_id, **report.as_dict()}))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Created tenant {tenant.tenant_id!r} from {str(path)!r}: {report.rows} rows in "
                f"{len(report.tables)} tables, verified."
            )
        )

    def _domains(self, given: list[str]) -> list[str]:
        return free_domains(given)

    def _show(self, table: TableCopy) -> None:
        self.stdout.write(f"  {table.table}: {table.rows} rows, verified")
