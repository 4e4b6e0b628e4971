"""``manage.py createtenant``: a tenant, its domains and its storage, all or nothing."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_omnitenant import provisioning
from django_omnitenant.management._database_options import (
    DATABASE_OPTIONS,
    add_database_arguments,
    database_config,
)
from django_omnitenant.management._domains import free_domains
from django_omnitenant.management._prompt import ask, usage_error
from django_omnitenant.placement import server_of
from django_omnitenant.utils import get_tenant_model
from django_omnitenant.validators import validate_tenant_id
from omnitenant_backends.placement import UnknownServer, check_server
from omnitenant_context import IsolationType, OmnitenantError, TenantContext


class Command(BaseCommand):
    help = (
        "Create a tenant: its row, its domains and its storage (a PostgreSQL schema or a "
        "database of its own), then run its migrations. All or nothing: on any failure "
        "nothing is left behind. Prompts for what is missing unless --noinput is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tenant-id",
            help="Unique, permanent id: lower-case letters, digits and '_' (e.g. acme).",
        )
        parser.add_argument("--name", help="Display name (default: the tenant id).")
        parser.add_argument(
            "--isolation-type",
            choices=[member.value for member in IsolationType],
            help="Where the data lives: 'schema' (default) or 'database'.",
        )
        parser.add_argument(
            "--domain",
            action="append",
            dest="domains",
            default=[],
            metavar="HOST",
            help="A host that serves the tenant; repeat for several. The first is primary.",
        )
        parser.add_argument(
            "--schema-name", help="Schema tenants: the schema (default: the tenant id)."
        )
        parser.add_argument(
            "--server",
            metavar="ALIAS",
            help="Schema tenants: the DATABASES alias of the PostgreSQL server that holds the "
            "schema (default: chosen by OMNITENANT_CONFIG['PLACEMENT_POLICY']).",
        )
        add_database_arguments(parser)
        parser.add_argument(
            "--no-migrate",
            action="store_true",
            help="Create the storage without running migrations.",
        )
        parser.add_argument(
            "--background",
            action="store_true",
            help="Save the tenant as 'provisioning' and return at once; a Celery worker "
            "makes its storage and moves it to 'active' (or 'failed', with the error).",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Never prompt; fail when a required value is missing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        interactive: bool = options["interactive"]
        tenant_id = self._value(options, "tenant_id", "Tenant id", interactive, required=True)
        try:
            validate_tenant_id(tenant_id)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        tenant_model = get_tenant_model()
        with TenantContext.use_master_db():
            if tenant_model.objects.filter(tenant_id=tenant_id).exists():
                raise CommandError(f"A tenant {tenant_id!r} exists already.")
        name = self._value(options, "name", "Name", interactive) or tenant_id
        isolation = (
            self._value(options, "isolation_type", "Isolation type (schema/database)", interactive)
            or IsolationType.SCHEMA.value
        )
        if isolation not in {member.value for member in IsolationType}:
            raise CommandError(f"Unknown isolation type {isolation!r}: use schema or database.")
        self._refuse_options_of_the_other_type(options, isolation)
        if options["server"]:
            try:
                check_server(options["server"])
            except UnknownServer as exc:
                raise usage_error(str(exc)) from exc
        domains = self._domains(options["domains"], interactive)
        database_config = (
            self._database_config(options, interactive)
            if isolation == IsolationType.DATABASE
            else {}
        )
        fields: dict[str, Any] = {
            "schema_name": options["schema_name"] or "",
            "database_config": database_config,
            "server": options["server"] or "",
        }
        tenant = self._create(
            tenant_id,
            name,
            isolation,
            domains,
            fields,
            run_migrations=not options["no_migrate"],
            background=options["background"],
        )
        where = (
            f"schema {tenant.schema_name!r} on server {server_of(tenant)!r}"
            if isolation == IsolationType.SCHEMA
            else f"database alias {tenant.database_alias!r}"
        )
        listed = ", ".join(domains) if domains else "no domains"
        if options["background"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Queued tenant {tenant_id!r} ({where}; {listed}): it is provisioning; "
                    "a Celery worker makes its storage (showtenants shows when it is active)."
                )
            )
            return
        self.stdout.write(self.style.SUCCESS(f"Created tenant {tenant_id!r} ({where}; {listed})."))

    # -- steps ------------------------------------------------------------------------

    def _create(
        self,
        tenant_id: str,
        name: str,
        isolation: str,
        domains: list[str],
        fields: dict[str, Any],
        *,
        run_migrations: bool,
        background: bool,
    ) -> Any:
        try:
            return provisioning.create_tenant(
                tenant_id,
                name=name,
                isolation_type=isolation,
                domains=domains,
                run_migrations=run_migrations,
                background=background,
                **fields,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except OmnitenantError as exc:
            raise CommandError(str(exc)) from exc

    @staticmethod
    def _refuse_options_of_the_other_type(options: dict[str, Any], isolation: str) -> None:
        """Options that the tenant's isolation type would ignore are a usage error."""
        if isolation == IsolationType.SCHEMA:
            given = [f"--{key.replace('_', '-')}" for key in DATABASE_OPTIONS if options[key]]
            if given:
                raise usage_error(
                    f"{', '.join(given)} only apply to database tenants; this is a schema "
                    "tenant (--isolation-type database for a database of its own)."
                )
        else:
            keys = ("schema_name", "server")
            given = [f"--{key.replace('_', '-')}" for key in keys if options[key]]
            if given:
                raise usage_error(f"{', '.join(given)} only apply to schema tenants.")

    def _value(
        self,
        options: dict[str, Any],
        key: str,
        label: str,
        interactive: bool,
        *,
        required: bool = False,
    ) -> str:
        value = options.get(key)
        if value:
            return str(value)
        if interactive:
            value = ask(f"{label}: ").strip()
        if required and not value:
            flag = "--" + key.replace("_", "-")
            raise CommandError(f"{label} is required: pass {flag}.")
        return str(value or "")

    def _domains(self, given: list[str], interactive: bool) -> list[str]:
        raw = list(given)
        if not raw and interactive:
            answer = ask("Domains (comma-separated, first is primary; empty for none): ")
            raw = [part.strip() for part in answer.split(",") if part.strip()]
        return free_domains(raw)

    def _database_config(self, options: dict[str, Any], interactive: bool) -> dict[str, Any]:
        def ask_value(key: str, label: str) -> str:
            return self._value(options, key, label, interactive)

        def ask_password() -> str:
            if interactive:
                return ask("Database password (hidden; empty for none): ", secret=True)
            return ""

        return database_config(options, ask_value=ask_value, ask_password=ask_password)
