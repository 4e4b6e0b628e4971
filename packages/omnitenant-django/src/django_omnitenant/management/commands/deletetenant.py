"""``manage.py deletetenant``: retire a tenant in two steps, with a way back.

1. ``deletetenant --tenant acme`` marks the tenant for deletion: it is no longer served,
   its data stays untouched.
2. ``deletetenant --tenant acme --restore`` makes it active again, or
   ``deletetenant --tenant acme --purge`` drops its schema or database and its row. Only
   a tenant marked before can be purged, and the purge asks to type the tenant id again
   unless ``--noinput`` is given.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_omnitenant.constants import TenantStatus
from django_omnitenant.management._common import add_tenant_argument, get_tenant_or_fail
from django_omnitenant.utils import get_tenant_backend
from omnitenant_backends import clear_tenant_cache
from omnitenant_context import OmnitenantError, TenantContext


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
        marked = tenant.status == TenantStatus.MARKED_FOR_DELETION
        with TenantContext.use_master_db():
            if options["restore"]:
                if not marked:
                    raise CommandError(f"Tenant {tenant.tenant_id!r} is not marked for deletion.")
                tenant.status = TenantStatus.ACTIVE
                tenant.save(update_fields=["status", "updated_at"])
                self.stdout.write(self.style.SUCCESS(f"Restored tenant {tenant.tenant_id!r}."))
            elif options["purge"]:
                self._purge(tenant, marked=marked, interactive=options["interactive"])
            else:
                if marked:
                    raise CommandError(
                        f"Tenant {tenant.tenant_id!r} is marked for deletion already; "
                        "--purge drops it, --restore brings it back."
                    )
                tenant.status = TenantStatus.MARKED_FOR_DELETION
                tenant.save(update_fields=["status", "updated_at"])
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Marked tenant {tenant.tenant_id!r} for deletion: it is no longer "
                        "served; its data is kept until --purge."
                    )
                )

    def _purge(self, tenant: Any, *, marked: bool, interactive: bool) -> None:
        if not marked:
            raise CommandError(
                f"Tenant {tenant.tenant_id!r} is {tenant.status}: mark it for deletion first "
                f"(deletetenant --tenant {tenant.tenant_id})."
            )
        if interactive:
            answer = input(
                f"This drops all data of tenant {tenant.tenant_id!r}. Type the tenant id to "
                "confirm: "
            )
            if answer.strip() != tenant.tenant_id:
                raise CommandError("Purge cancelled: the confirmation did not match.")
        try:
            get_tenant_backend(tenant).delete(drop_data=True)
        except OmnitenantError as exc:
            raise CommandError(f"Dropping the data failed, the tenant row is kept: {exc}") from exc
        tenant.delete()
        # A tenant created later under the same id must not find this one's cache.
        try:
            clear_tenant_cache(tenant)
        except OmnitenantError as exc:
            raise CommandError(
                f"Tenant {tenant.tenant_id!r} was purged, but clearing its cache failed: {exc}"
            ) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Purged tenant {tenant.tenant_id!r}: data and row deleted.")
        )
