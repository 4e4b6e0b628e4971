"""Creates the example's master database, two tenants, their notes and users (idempotent).

The demo accounts share one password, DEMO_PASSWORD, which the README gives: ``operator``
on the public host (the operators' admin), ``alice`` in acme, ``bob`` in globex.
"""

from typing import Any

from customers.models import Tenant
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import BaseCommand
from notes.models import Note

from django_omnitenant import provisioning
from django_omnitenant.tenant_context import TenantContext

DEMO_TENANTS = {
    "acme": ("ACME Corporation", "alice", ["Ship the anvils", "Order more rockets"]),
    "globex": ("Globex Corporation", "bob", ["Hire a new CEO", "Move to Cypress Creek"]),
}
OPERATOR = "operator"  # the master's superuser: the admin of the public host
DEMO_PASSWORD = "omnitenant-demo"  # noqa: S105 - the example's documented demo password


class Command(BaseCommand):
    help = "Create the example site's master database, the acme and globex tenants, and notes."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=0)
        if Tenant.objects.exists():
            # A second run: every tenant, also those signed up on the public page, is
            # brought up to date.
            call_command("migratealltenants")
        isolation = settings.DEMO_ISOLATION
        _ensure_superuser(OPERATOR)
        for tenant_id, (name, username, notes) in DEMO_TENANTS.items():
            tenant = Tenant.objects.filter(tenant_id=tenant_id).first()
            if tenant is None:
                tenant = provisioning.create_tenant(
                    tenant_id,
                    name=name,
                    isolation_type=isolation,
                    domains=[f"{tenant_id}.localhost"],
                )
                with TenantContext.use_tenant(tenant):
                    _ensure_superuser(username)  # the tenant's own user table
                    Note.objects.bulk_create(Note(text=text) for text in notes)
                    # Stored by the tenant media storage in var/media/<tenant id>/.
                    default_storage.save("welcome.txt", ContentFile(f"Welcome to {name}."))
                self.stdout.write(f"created tenant {tenant_id} ({isolation})")
            else:
                with TenantContext.use_tenant(tenant):
                    _ensure_superuser(username)
        self.stdout.write(
            "Open http://localhost:8000/ (sign up there), http://acme.localhost:8000/ "
            "(user alice) and http://globex.localhost:8000/ (user bob); the admin of the "
            "public host is for the user operator. The password is in the README."
        )


def _ensure_superuser(username: str) -> None:
    """The demo user ``username`` in the active tenant (the master with none)."""
    users = get_user_model()._default_manager
    if not users.filter(username=username).exists():
        users.create_superuser(username=username, email="", password=DEMO_PASSWORD)  # type: ignore[attr-defined]  # UserManager's
