"""``manage.py deletetenant``: retire a tenant in two steps, with a way back.

1. ``deletetenant --tenant acme`` marks the tenant for deletion: it is no longer served,
   its data stays untouched.
2. ``deletetenant --tenant acme --restore`` makes it active again, or
   ``deletetenant --tenant acme --purge`` drops its schema or database and its row. Only
   a tenant marked before (or one whose provisioning failed) can be purged, and the
   purge asks to type the tenant id again unless ``--noinput`` is given.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_omnitenant import provisioning
from django_omnitenant.management._common import add_tenant_argument, get_tenant_or_fail
from django_omnitenant.management._prompt import ask
from omnitenant_context import OmnitenantError


class Command(BaseCommand):
    help = (
        "Mark a tenant for deletion (it stops being served, its data stays), restore it "
        "with --restore, or drop its data and row with --purge once it is marked."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_tenant_argument(parser)
        step = parser.add_mutually_exclusive_group()
        step.add_argument(
            "--purge",
            action="store_true",
            help="Drop the schema or database and delete the tenant row. Irreversible; "
            "the tenant must have been marked for deletion first.",
        )
        step.add_argument(
            "--restore", action="store_true", help="Make a marked tenant active again."
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation before purging.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant_or_fail(options["tenant"])
        try:
            if options["restore"]:
                provisioning.restore(tenant)
                self.stdout.write(self.style.SUCCESS(f"Restored tenant {tenant.tenant_id!r}."))
            elif options["purge"]:
                self._purge(tenant, interactive=options["interactive"])
            else:
                provisioning.mark_for_deletion(tenant)
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Marked tenant {tenant.tenant_id!r} for deletion: it is no longer "
                        "served; its data is kept until --purge."
                    )
                )
        except provisioning.TransitionError as exc:
            raise CommandError(str(exc)) from exc

    def _purge(self, tenant: Any, *, interactive: bool) -> None:
        if tenant.status not in provisioning.PURGEABLE:
            raise CommandError(
                f"Tenant {tenant.tenant_id!r} is {tenant.status}: mark it for deletion first "
                f"(deletetenant --tenant {tenant.tenant_id})."
            )
        if interactive:
            answer = ask(
                f"This drops all data of tenant {tenant.tenant_id!r}. Type the tenant id to "
                "confirm: "
            )
            if answer.strip() != tenant.tenant_id:
                raise CommandError("Purge cancelled: the confirmation did not match.")
        try:
            provisioning.purge_tenant(tenant)
        except provisioning.TransitionError:
            raise
        except OmnitenantError as exc:
            raise CommandError(
                f"Purging tenant {tenant.tenant_id!r} failed: {exc} (if its data was not "
                "dropped, its row is kept: run the purge again)."
            ) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Purged tenant {tenant.tenant_id!r}: data and row deleted.")
        )
