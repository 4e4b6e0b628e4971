"""``manage.py createtenantsuperuser --tenant ID``: Django's createsuperuser in a tenant.

Users are tenant data when ``auth`` is a shared or tenant app: the superuser is created in
the tenant's schema or database. Every option of ``createsuperuser`` works.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management.commands import createsuperuser
from django.core.management.base import CommandError, CommandParser

from django_omnitenant.management._common import add_tenant_argument, get_tenant_or_fail
from omnitenant_backends.conf import backend_settings
from omnitenant_backends.placement import storage_alias
from omnitenant_context import IsolationType, TenantContext


class Command(createsuperuser.Command):
    help = "Create a superuser inside one tenant. Takes every option of createsuperuser."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        add_tenant_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant_or_fail(options.pop("tenant"), include_inactive=False)
        master = backend_settings().master_database
        # createsuperuser writes to --database explicitly, bypassing the router: it must
        # be the connection of the tenant's storage (its own database, or its server).
        alias = storage_alias(tenant)
        named = tenant.database_alias if tenant.isolation_type == IsolationType.DATABASE else alias
        if options["database"] not in (master, named, alias):
            raise CommandError("--database cannot point elsewhere than the tenant.")
        options["database"] = alias
        with TenantContext.use_tenant(tenant):
            super().handle(*args, **options)
