"""``manage.py tenantcommand (--tenant ID ... | --all-tenants) COMMAND [ARGS]``.

Runs any management command inside one tenant, several, or every active tenant, one
after the other. The tenant options come before the command name; everything after the
name belongs to the command (``tenantcommand --tenant acme migrate --plan``).

A failing tenant does not stop the others; the exit status is non-zero when any failed,
and a summary names them.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_omnitenant.constants import TenantStatus
from django_omnitenant.management._common import select_tenants
from omnitenant_context import TenantContext


class Command(BaseCommand):
    help = (
        "Run a management command inside tenants: tenantcommand --tenant ID (repeatable) "
        "| --all-tenants [--exclude ID] COMMAND [ARGS...]. Options before the command name "
        "are tenantcommand's; everything after it goes to the command."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("command_name", help="The management command to run.")
        parser.add_argument(
            "command_args",
            nargs=argparse.REMAINDER,
            help="Arguments for the command (put them after the command name).",
        )
        parser.add_argument(
            "--tenant", action="append", default=[], help="A tenant to run in; repeatable."
        )
        parser.add_argument(
            "--all-tenants", action="store_true", help="Run in every active tenant."
        )
        parser.add_argument(
            "--exclude", action="append", default=[], help="A tenant to skip; repeatable."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["tenant"]) == bool(options["all_tenants"]):
            raise CommandError("Give either --tenant (one or more) or --all-tenants.")
        if options["command_name"] == "tenantcommand":
            raise CommandError("tenantcommand cannot run itself.")
        tenants = select_tenants(
            options["tenant"],
            options["exclude"],
            statuses=[TenantStatus.ACTIVE] if options["all_tenants"] else None,
        )
        failed: list[str] = []
        for tenant in tenants:
            self.stdout.write(f"== {tenant.tenant_id}")
            try:
                with TenantContext.use_tenant(tenant):
                    call_command(
                        options["command_name"],
                        *options["command_args"],
                        stdout=self.stdout,
                        stderr=self.stderr,
                    )
            except (CommandError, Exception) as exc:  # reported and counted, not hidden
                failed.append(tenant.tenant_id)
                self.stderr.write(f"{tenant.tenant_id}: {type(exc).__name__}: {exc}")
        done = len(tenants) - len(failed)
        self.stdout.write(f"{done} of {len(tenants)} tenants succeeded.")
        if failed:
            raise CommandError(f"Failed in {len(failed)} tenant(s): {', '.join(failed)}.")
