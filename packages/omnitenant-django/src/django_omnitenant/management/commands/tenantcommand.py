"""``manage.py tenantcommand (--tenant ID ... | --all-tenants) COMMAND [ARGS]``.

Runs any management command inside one tenant, several, or every active tenant, one
after the other (``--include-state maintenance`` and the like add tenants in other
lifecycle states; a tenant in maintenance is entered read-only, enforced by the
database). The tenant options come before the command name; everything after the
name belongs to the command (``tenantcommand --tenant acme migrate --plan``).

A failing tenant does not stop the others; the exit status is non-zero when any failed,
and a summary names them.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_omnitenant import lifecycle
from django_omnitenant.constants import TenantStatus
from django_omnitenant.management._common import (
    add_state_argument,
    chosen_states,
    select_tenants,
)

# --all-tenants: only active tenants unless --include-state adds others.
_DEFAULT_STATES = (TenantStatus.ACTIVE.value,)
# Tenants with storage a command can run in (a tenant named with --tenant may be in any
# of these); provisioning and failed tenants have none, or none complete.
_ENTERABLE = frozenset(
    {
        TenantStatus.ACTIVE,
        TenantStatus.MAINTENANCE,
        TenantStatus.SUSPENDED,
        TenantStatus.MARKED_FOR_DELETION,
    }
)


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
            "--all-tenants",
            action="store_true",
            help="Run in every active tenant (see --include-state).",
        )
        parser.add_argument(
            "--exclude", action="append", default=[], help="A tenant to skip; repeatable."
        )
        add_state_argument(parser, _DEFAULT_STATES, verb="run in")

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["tenant"]) == bool(options["all_tenants"]):
            raise CommandError("Give either --tenant (one or more) or --all-tenants.")
        if options["command_name"] == "tenantcommand":
            raise CommandError("tenantcommand cannot run itself.")
        states = chosen_states(_DEFAULT_STATES, options)
        tenants = select_tenants(
            options["tenant"],
            options["exclude"],
            statuses=states if options["all_tenants"] else None,
        )
        if options["all_tenants"]:
            self.stdout.write(f"Tenants in state: {', '.join(states)}.")
        failed: list[str] = []
        for tenant in tenants:
            self.stdout.write(f"== {tenant.tenant_id}")
            try:
                # Read-only (enforced by the database) for a tenant in maintenance.
                with lifecycle.use_tenant(tenant, states=_ENTERABLE):
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
