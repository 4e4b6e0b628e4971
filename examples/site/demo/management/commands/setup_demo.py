"""Creates the example's master database, two tenants and their notes (idempotent)."""

from typing import Any

from customers.models import Tenant
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import BaseCommand
from notes.models import Note

from django_omnitenant import provisioning
from django_omnitenant.tenant_context import TenantContext
from django_omnitenant.utils import get_tenant_backend

DEMO_TENANTS = {
    "acme": ("ACME Corporation", ["Ship the anvils", "Order more rockets"]),
    "globex": ("Globex Corporation", ["Hire a new CEO", "Move to Cypress Creek"]),
}


class Command(BaseCommand):
    help = "Create the example site's master database, the acme and globex tenants, and notes."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=0)
        isolation = settings.DEMO_ISOLATION
        for tenant_id, (name, notes) in DEMO_TENANTS.items():
            tenant = Tenant.objects.filter(tenant_id=tenant_id).first()
            if tenant is None:
                tenant = provisioning.create_tenant(
                    tenant_id,
                    name=name,
                    isolation_type=isolation,
                    domains=[f"{tenant_id}.localhost"],
                )
                with TenantContext.use_tenant(tenant):
                    Note.objects.bulk_create(Note(text=text) for text in notes)
                    # Stored by the tenant media storage in var/media/<tenant id>/.
                    default_storage.save("welcome.txt", ContentFile(f"Welcome to {name}."))
                self.stdout.write(f"created tenant {tenant_id} ({isolation})")
            else:
                get_tenant_backend(tenant).migrate()
        self.stdout.write(
            "Open http://localhost:8000/, http://acme.localhost:8000/ and "
            "http://globex.localhost:8000/"
        )
