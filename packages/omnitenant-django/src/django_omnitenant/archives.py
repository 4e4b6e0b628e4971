"""Copying a tenant between environments: one archive out, a new tenant in.

::

    from django_omnitenant import archives

    archives.dump_tenant(acme, Path("acme.omnitenant"))
    copy = archives.load_tenant(Path("acme.omnitenant"), "acme_staging",
                                domains=["acme.staging.example.com"])

The archive (:mod:`omnitenant_backends.archive`) holds the tenant's rows, the migrations
applied to it, and a count and checksum per table; it does not depend on the database
vendor or the isolation type. A dump reads one snapshot of the tenant (a repeatable-read
transaction on PostgreSQL, one transaction on SQLite). A load creates the new tenant
through :mod:`django_omnitenant.provisioning` and fills it in the same all-or-nothing
creation: if the archive's migration state is not the one a new tenant gets here, or any
row fails or differs from the archive's checksums, nothing is left behind.
``tenant_created`` receivers run before the rows are loaded; rows they wrote give way to
the archive's (the tenant's ``Site`` is set again from its new primary domain).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, connections, transaction

from django_omnitenant import provisioning
from django_omnitenant.__about__ import __version__
from django_omnitenant.conf import app_settings
from django_omnitenant.constants import TenantStatus
from django_omnitenant.sites import sync_tenant_site
from django_omnitenant.utils import get_domain_model, get_tenant_model
from omnitenant_backends.archive import ArchiveError, ArchiveSource, write_archive
from omnitenant_backends.copying import (
    CopyReport,
    DjangoLocation,
    Progress,
    applied_migrations,
    copy_rows,
)
from omnitenant_backends.placement import storage_alias
from omnitenant_context import IsolationType, TenantContext

if TYPE_CHECKING:
    from django_omnitenant.models import BaseTenant

__all__ = ["ArchiveError", "dump_tenant", "load_tenant"]


@contextmanager
def _one_snapshot(alias: str) -> Iterator[None]:
    """One transaction that sees one state of the data, for every table of the dump."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        with transaction.atomic(using=alias):
            yield
        return
    # A session default, not SET TRANSACTION: the engine may send the tenant's path as
    # the transaction's first statement.
    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_isolation = 'repeatable read'")
    try:
        with transaction.atomic(using=alias):
            yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET default_transaction_isolation")
        except DatabaseError:
            connection.close()  # never hand on a session with the changed default


def dump_tenant(tenant: BaseTenant, path: Path, *, progress: Progress | None = None) -> CopyReport:
    """Write ``tenant``'s rows and migration state to the archive ``path``.

    The file appears only once complete. Raises
    :class:`~omnitenant_backends.archive.ArchiveError` (a ``CopyError``) when a table
    cannot be dumped (no model for it).
    """
    alias = storage_alias(tenant)
    with TenantContext.use_master_db():
        domains = list(
            get_domain_model()
            .objects.filter(tenant__pk=tenant.pk)
            .order_by("-is_primary", "domain")
            .values_list("domain", flat=True)
        )
    about: dict[str, Any] = {
        "tenant_id": tenant.tenant_id,
        "name": tenant.name,
        "isolation_type": str(tenant.isolation_type),
        "domains": domains,
        "dumped_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "omnitenant": __version__,
    }
    with _one_snapshot(alias):
        migrations = applied_migrations(tenant, alias)
        return write_archive(
            path,
            DjangoLocation(tenant, alias),
            migrations=migrations,
            about=about,
            progress=progress,
        )


def load_tenant(
    path: Path,
    tenant_id: str,
    *,
    domains: Sequence[str] = (),
    name: str = "",
    isolation_type: str = IsolationType.SCHEMA.value,
    server: str = "",
    database_config: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> tuple[BaseTenant, CopyReport]:
    """Create the tenant ``tenant_id`` from the archive ``path``, all or nothing.

    A schema tenant goes to ``server``, or where the placement policy puts it.

    Raises:
        ArchiveError: The file is not a readable archive, or its migration state is not
            the one a new tenant gets here; nothing was created.
        CopyMismatch: The rows loaded differ from the archive's (nothing was created).
        TenantExists, ValidationError, ProvisioningError: As for ``create_tenant``.
    """
    source = ArchiveSource(path)
    try:
        about = source.about
        tenant = get_tenant_model()(
            tenant_id=tenant_id,
            name=name or str(about.get("name") or tenant_id),
            isolation_type=isolation_type,
            server=server,
            database_config=dict(database_config or {}),
        )
        with provisioning.creating():
            provisioning.save_new(tenant, domains, TenantStatus.ACTIVE)
            provisioning.make_storage(tenant)
            alias = storage_alias(tenant)
            _check_reachable(source, applied_migrations(tenant, alias))
            report = copy_rows(source, DjangoLocation(tenant, alias), progress=progress)
            if app_settings().tenant_sites:
                sync_tenant_site(tenant)
    finally:
        source.close()
    return tenant, report


def _check_reachable(source: ArchiveSource, here: set[tuple[str, str]]) -> None:
    archived = source.migrations
    if archived == here:
        return
    unknown = sorted(f"{app}.{name}" for app, name in archived - here)
    missing = sorted(f"{app}.{name}" for app, name in here - archived)
    if unknown:
        raise ArchiveError(
            f"The archive was dumped at a migration state this code cannot reach: it has "
            f"migrations unknown here ({', '.join(unknown)}). Load it where those "
            "migrations exist."
        )
    raise ArchiveError(
        f"The archive was dumped before migrations this code applies to a new tenant "
        f"({', '.join(missing)}). Load it into an environment at the archive's state, "
        "migrate that tenant, and dump it again."
    )
