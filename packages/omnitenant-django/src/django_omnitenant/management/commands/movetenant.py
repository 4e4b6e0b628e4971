"""``manage.py movetenant``: move a tenant to another server or isolation type, nothing lost.

``movetenant --tenant acme --to-server second`` (a schema tenant, to the PostgreSQL server
of the ``DATABASES`` alias ``second``) or ``movetenant --tenant acme --to-isolation
database --db-engine postgresql`` puts the tenant
in maintenance (reads are served, writes refused), makes the new storage, copies and
verifies every table, switches the tenant in one master transaction and makes it active
again. A failure at any step leaves it active on its source, with the partial target
removed. The old storage is kept: ``movetenant --tenant acme --purge-source`` drops it.
See :mod:`django_omnitenant.moves`.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_omnitenant import moves
from django_omnitenant.management._common import add_tenant_argument, get_tenant_or_fail
from django_omnitenant.management._database_options import (
    DATABASE_OPTIONS,
    add_database_arguments,
    database_config,
)
from django_omnitenant.management._prompt import usage_error
from django_omnitenant.provisioning import TransitionError
from omnitenant_context import IsolationType, OmnitenantError


class Command(BaseCommand):
    help = (
        "Move a tenant to another server (--to-server ALIAS) or isolation type "
        "(--to-isolation schema|database): the tenant is read-only during the copy, "
        "verified, then switched in one transaction. "
        "The old storage is kept until --purge-source."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_tenant_argument(parser)
        parser.add_argument(
            "--to-isolation",
            choices=[member.value for member in IsolationType],
            help="Where the tenant's data goes: 'schema' or 'database' (default: its own).",
        )
        parser.add_argument(
            "--to-server",
            metavar="ALIAS",
            help="Schema tenants: the DATABASES alias of the PostgreSQL server to move to "
            "(a move to a schema without it: the placement policy chooses).",
        )
        parser.add_argument(
            "--purge-source",
            action="store_true",
            help="Drop the storage an earlier move kept (the way back is then gone).",
        )
        add_database_arguments(parser)
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="'text' (progress on the terminal, default) or 'json' (one report object).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant_or_fail(options["tenant"])
        given = [f"--{key.replace('_', '-')}" for key in DATABASE_OPTIONS if options[key]]
        as_json = options["format"] == "json"
        moving = options["to_isolation"] or options["to_server"]
        if options["purge_source"]:
            if given or moving:
                flags = [*given, *(["--to-isolation/--to-server"] if moving else [])]
                raise usage_error(f"{', '.join(flags)} do not apply to --purge-source.")
            try:
                dropped = moves.purge_source(tenant)
            except OmnitenantError as exc:
                raise CommandError(str(exc)) from exc
            if as_json:
                self.stdout.write(json.dumps({"tenant": tenant.tenant_id, "purged": dropped}))
            else:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Dropped the kept source of {tenant.tenant_id!r}: {dropped}."
                    )
                )
            return
        if not moving:
            raise usage_error(
                "Say where to: --to-server ALIAS and/or --to-isolation, or --purge-source."
            )
        isolation = options["to_isolation"]
        if isolation != IsolationType.DATABASE and given:
            raise usage_error(
                f"{', '.join(given)} only apply to a move to a database (--to-isolation database)."
            )
        config = database_config(options) if isolation == IsolationType.DATABASE else None
        try:
            report = moves.move_tenant(
                tenant,
                isolation_type=isolation,
                server=options["to_server"],
                database_config=config,
                progress=None if as_json else self._show,
            )
        except (OmnitenantError, TransitionError) as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps(report.as_dict()))
            return
        copy = report.copy
        self.stdout.write(
            self.style.SUCCESS(
                f"Moved tenant {tenant.tenant_id!r} from {report.source} to {report.target}: "
                f"{copy.rows} rows in {len(copy.tables)} tables, {copy.sequences} sequences, "
                f"{copy.bytes / 1e6:.1f} MB at {copy.bytes_per_second / 1e6:.1f} MB/s; "
                f"writes were unavailable for {report.write_unavailable_seconds:.2f} s."
            )
        )
        self.stdout.write(
            f"The source is kept ({report.kept_source}): movetenant --tenant "
            f"{tenant.tenant_id} --purge-source drops it."
        )
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(warning))

    def _show(self, event: str, details: dict[str, Any]) -> None:
        if event == "maintenance":
            self.stdout.write(
                f"Maintenance: writes refused, reads served from {details['source']}."
            )
        elif event == "target_made":
            self.stdout.write(f"Made {details['target']} at the tenant's migration state.")
        elif event == "table":
            self.stdout.write(
                f"  {details['table']}: {details['rows']} rows, {details['bytes']} bytes, verified"
            )
        elif event == "active":
            self.stdout.write("Switched; the tenant is active on its new storage.")
