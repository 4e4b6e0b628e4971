"""``manage.py shell [--tenant ID]``: Django's shell, optionally inside a tenant.

Without ``--tenant`` this is exactly Django's ``shell``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands import shell

from django_omnitenant.management._common import (
    add_tenant_argument,
    get_tenant_or_fail,
    is_master_name,
)
from omnitenant_context import TenantContext


class Command(shell.Command):
    help = "Django's interactive shell; with --tenant, every query runs in that tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        add_tenant_argument(parser, required=False)

    def handle(self, **options: Any) -> None:
        tenant_id = options.pop("tenant", None)
        if tenant_id is None:
            super().handle(**options)
        elif is_master_name(tenant_id):
            with TenantContext.use_master_db():
                super().handle(**options)
        else:
            tenant = get_tenant_or_fail(tenant_id)
            with TenantContext.use_tenant(tenant):
                super().handle(**options)
