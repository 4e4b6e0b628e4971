"""``manage.py migratetenant --tenant ID``: Django's ``migrate`` inside one tenant.

Every option of ``migrate`` works (app label, migration name, ``--fake``,
``--fake-initial``, ``--plan``, ``--check``, ...). ``--tenant master`` migrates the master
database and shared schema.

A tenant is migrated by the fleet executor (:mod:`omnitenant_backends.fleet_migrate`), the
one ``migratealltenants`` uses, so one tenant and the whole fleet go through the same code;
the options it does not take (``--plan``, ``--check``, ``--prune``, ``--run-syncdb``,
``--fake-initial``) run Django's ``migrate`` itself.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.core.management.commands import migrate

from django_omnitenant.management._common import (
    add_tenant_argument,
    get_tenant_or_fail,
    is_master_name,
)
from django_omnitenant.management._prompt import usage_error
from django_omnitenant.signals import tenant_migrated
from django_omnitenant.utils import get_tenant_backend
from omnitenant_backends.conf import backend_settings
from omnitenant_backends.fleet_migrate import FleetMigrator, MigrationTargetError
from omnitenant_context import TenantContext


class Command(migrate.Command):
    help = (
        "Run Django's migrate inside one tenant (its schema or its database). Takes every "
        "option of migrate; --tenant master migrates the master database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        add_tenant_argument(parser)
        # No default: an explicit --database (even the master's) is refused below.
        parser.set_defaults(database=None)

    def execute(self, *args: Any, **options: Any) -> Any:
        # Before Django's checks, which read options["database"].
        if options.get("database") is not None:
            raise usage_error("--database cannot be combined with --tenant: the tenant decides.")
        options["database"] = backend_settings().master_database
        return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant_id: str = options.pop("tenant")
        if is_master_name(tenant_id):
            with TenantContext.use_master_db():
                super().handle(*args, **options)
            return
        tenant = get_tenant_or_fail(tenant_id)
        backend = get_tenant_backend(tenant)
        with backend.migration_scope() as alias:
            options["database"] = alias
            if any(options.get(name) for name in _DJANGO_ONLY):
                super().handle(*args, **options)
            else:
                self._migrate_with_fleet_executor(alias, options)
        if not options.get("plan") and not options.get("check_unapplied"):
            tenant_migrated.send(sender=type(tenant), tenant=tenant)

    def _migrate_with_fleet_executor(self, alias: str, options: dict[str, Any]) -> None:
        self.verbosity = options["verbosity"]
        migrator = FleetMigrator(
            app_label=options["app_label"],
            migration_name=options["migration_name"],
            fake=options["fake"],
            verbosity=self.verbosity,
            stdout=self.stdout,
            progress_callback=self.migration_progress_callback,
        )
        if self.verbosity >= 1:
            self.stdout.write(self.style.MIGRATE_HEADING("Running migrations:"))
        try:
            plan = migrator.migrate(alias)
        except MigrationTargetError as exc:
            raise CommandError(str(exc)) from exc
        if not plan and self.verbosity >= 1:
            self.stdout.write("  No migrations to apply.")


# Options the fleet executor leaves to Django's migrate.
_DJANGO_ONLY = ("plan", "check_unapplied", "prune", "run_syncdb", "fake_initial")
