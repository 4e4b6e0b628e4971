"""``manage.py showtenants``: list tenants with their domains, as a table, JSON or CSV.

The ``server`` column names the ``DATABASES`` alias of a schema tenant's server (see
docs/scaling.md); it is empty for a database tenant, whose own database is its storage.

Secrets never appear: a database tenant shows its engine, database name and host, never
its user's password or connection options.
"""

from __future__ import annotations

import csv
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Prefetch

from django_omnitenant.constants import TenantStatus
from django_omnitenant.placement import on_server, server_of
from django_omnitenant.utils import get_domain_model, get_tenant_model
from omnitenant_context import IsolationType, TenantContext

COLUMNS = (
    "tenant_id",
    "name",
    "isolation_type",
    "status",
    "server",
    "storage",
    "domains",
    "created_at",
)


def describe(tenant: Any) -> dict[str, str]:
    """The public description of a tenant: what every output format shows."""
    # A schema tenant's server is a DATABASES alias; a database tenant has its own.
    server = ""
    if tenant.isolation_type == IsolationType.SCHEMA:
        storage = f"schema {tenant.schema_name}"
        server = server_of(tenant)
    else:
        config = tenant.database_config or {}
        engine = str(config.get("ENGINE", "django.db.backends.sqlite3")).rsplit(".", 1)[-1]
        name = config.get("NAME") or "(default file)"
        host = f"@{config['HOST']}" if config.get("HOST") else ""
        storage = f"{engine} {name}{host}"
    # Primary first; the domains were prefetched in that order.
    domains = " ".join(domain.domain for domain in tenant.domains.all())
    return {
        "tenant_id": tenant.tenant_id,
        "name": tenant.name,
        "isolation_type": tenant.isolation_type,
        "status": tenant.status,
        "server": server,
        "storage": storage,
        "domains": domains,
        "created_at": tenant.created_at.isoformat(timespec="seconds"),
    }


class Command(BaseCommand):
    help = "List the tenants, their storage and their domains (no secrets, in any format)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            choices=["table", "json", "csv"],
            default="table",
            help="Output format (default: table).",
        )
        parser.add_argument(
            "--isolation-type",
            choices=[member.value for member in IsolationType],
            help="Only tenants of this isolation type.",
        )
        parser.add_argument(
            "--status",
            choices=TenantStatus.values,
            help="Only tenants with this status.",
        )
        parser.add_argument(
            "--server",
            metavar="ALIAS",
            help="Only the schema tenants on this server (a DATABASES alias).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        domain_model = get_domain_model()
        with TenantContext.use_master_db():
            # Any: "domains" is the reverse relation of the concrete domain model, which
            # the abstract BaseTenant the type checker sees does not know.
            tenants: Any = get_tenant_model().objects.order_by("tenant_id")
            queryset = tenants.prefetch_related(
                Prefetch(
                    "domains",
                    queryset=domain_model.objects.order_by("-is_primary", "domain"),
                )
            )
            if options["isolation_type"]:
                queryset = queryset.filter(isolation_type=options["isolation_type"])
            if options["status"]:
                queryset = queryset.filter(status=options["status"])
            if options["server"]:
                queryset = queryset.filter(on_server(options["server"]))
            rows = [describe(tenant) for tenant in queryset]
        output = options["format"]
        if output == "json":
            self.stdout.write(json.dumps(rows, indent=2))
        elif output == "csv":
            writer = csv.DictWriter(self.stdout, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        else:
            self._table(rows)

    def _table(self, rows: list[dict[str, str]]) -> None:
        if not rows:
            self.stdout.write("No tenants.")
            return
        widths = {
            column: max(len(column), *(len(row[column]) for row in rows)) for column in COLUMNS
        }
        self.stdout.write("  ".join(column.ljust(widths[column]) for column in COLUMNS).rstrip())
        self.stdout.write("  ".join("-" * widths[column] for column in COLUMNS))
        for row in rows:
            self.stdout.write(
                "  ".join(row[column].ljust(widths[column]) for column in COLUMNS).rstrip()
            )
        self.stdout.write(f"{len(rows)} tenant{'s' if len(rows) != 1 else ''}.")
