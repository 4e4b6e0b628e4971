"""``manage.py findorphans``: storage no tenant names, and tenants whose storage is gone.

Reports by default (a table, or ``--format json``). ``--remove`` drops the orphans (only
those named with ``--only`` when given), after typing ``remove`` to confirm unless
``--noinput``. Tenant rows are never changed: a row whose storage is missing is reported
for the operator to decide. What counts as tenant storage, and what is never touched, is
described in :mod:`omnitenant_backends.storage`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_omnitenant.management._prompt import ask, usage_error
from django_omnitenant.utils import get_tenant_model
from omnitenant_backends.storage import (
    MissingStorage,
    Storage,
    find_missing_storage,
    find_orphans,
    remove_orphan,
)
from omnitenant_context import OmnitenantError, TenantContext


class Command(BaseCommand):
    help = (
        "Find schemas, databases and SQLite files that look like tenants' but no tenant "
        "names (orphans), and tenants whose storage is missing. Reports only, unless "
        "--remove is given (orphans only; tenant rows are never changed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format", choices=["text", "json"], default="text", help="Output format."
        )
        parser.add_argument(
            "--remove",
            action="store_true",
            help="Drop the orphans found (asks to confirm unless --noinput).",
        )
        parser.add_argument(
            "--only",
            action="append",
            default=[],
            metavar="NAME",
            help="With --remove: only this orphan (schema or database name, or file path); "
            "repeatable.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation before removing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["only"] and not options["remove"]:
            raise usage_error("--only selects what --remove drops; give --remove too.")
        tenants = self._tenants()
        orphans = find_orphans(tenants)
        missing = find_missing_storage(tenants)
        if options["only"]:
            unknown = sorted(set(options["only"]) - {orphan.name for orphan in orphans})
            if unknown:
                raise CommandError(f"Not orphans (left untouched): {', '.join(unknown)}.")
            orphans = [orphan for orphan in orphans if orphan.name in options["only"]]
        removed: list[Storage] = []
        failures: list[str] = []
        if options["remove"] and orphans:
            if options["interactive"]:
                self._confirm(orphans)
            removed, failures = self._remove(orphans)
        self._report(options["format"], orphans, missing, removed, remove=options["remove"])
        if failures:
            raise CommandError(
                f"{len(failures)} of {len(orphans)} orphans were not removed: "
                + "; ".join(failures)
            )

    def _tenants(self) -> list[Any]:
        with TenantContext.use_master_db():
            return list(get_tenant_model().objects.order_by("tenant_id"))

    def _confirm(self, orphans: list[Storage]) -> None:
        listing = "\n".join(f"  {orphan.kind} {orphan.name}" for orphan in orphans)
        self.stdout.write(f"These orphans and all their data will be dropped:\n{listing}")
        if ask("Type 'remove' to confirm: ").strip() != "remove":
            raise CommandError("Nothing removed: the confirmation did not match.")

    def _remove(self, orphans: list[Storage]) -> tuple[list[Storage], list[str]]:
        removed: list[Storage] = []
        failures: list[str] = []
        for orphan in orphans:
            try:
                # Checked again against the rows of now: a tenant made meanwhile is kept.
                remove_orphan(orphan, self._tenants())
            except (OmnitenantError, ValueError) as exc:
                failures.append(f"{orphan.kind} {orphan.name}: {exc}")
            else:
                removed.append(orphan)
        return removed, failures

    def _report(
        self,
        output_format: str,
        orphans: list[Storage],
        missing: list[MissingStorage],
        removed: list[Storage],
        *,
        remove: bool,
    ) -> None:
        if output_format == "json":
            self.stdout.write(
                json.dumps(
                    {
                        "orphans": [asdict(orphan) for orphan in orphans],
                        "missing": [
                            {"tenant_id": m.tenant_id, **asdict(m.storage), "problem": m.problem}
                            for m in missing
                        ],
                        "removed": [asdict(orphan) for orphan in removed],
                    },
                    indent=2,
                )
            )
            return
        if not orphans and not missing:
            self.stdout.write("No orphaned storage, and every tenant's storage exists.")
            return
        if orphans:
            self.stdout.write("Orphaned storage (no tenant names it):")
            for orphan in orphans:
                done = " (removed)" if orphan in removed else ""
                self.stdout.write(f"  {orphan.kind:<8} {orphan.name}{done}")
            if not remove:
                self.stdout.write("Run with --remove to drop them.")
        if missing:
            self.stdout.write("Tenants whose storage is missing:")
            for entry in missing:
                self.stdout.write(
                    f"  {entry.tenant_id:<20} {entry.storage.kind:<8} {entry.storage.name}: "
                    f"{entry.problem}"
                )
