"""What every isolation backend shares: the create / migrate / delete life cycle."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, ClassVar

from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connections, models

from omnitenant_backends._scope import maintenance_writes
from omnitenant_backends.conf import backend_settings
from omnitenant_backends.signals import tenant_created, tenant_deleted, tenant_migrated
from omnitenant_context import (
    ProvisioningError,
    Tenant,
    TenantContext,
    TenantScope,
    check_identifier,
)

__all__ = ["BaseTenantBackend"]

logger = logging.getLogger("omnitenant.backends")


class BaseTenantBackend(ABC):
    """The life cycle of one tenant's storage; one subclass per isolation model.

    ``create()`` is all or nothing: when provisioning, migrating or a ``tenant_created``
    receiver fails, the backend removes whatever it made and also deletes the tenant's row
    from the master database (when the tenant is a saved model instance), then raises
    :class:`~omnitenant_context.ProvisioningError` with the original error as its cause.
    ``delete()`` drops nothing unless asked with ``drop_data=True``.
    """

    #: The :class:`~omnitenant_context.IsolationType` value this backend serves.
    isolation_type: ClassVar[str]

    def __init__(self, tenant: Tenant) -> None:
        check_identifier(tenant.tenant_id, what="tenant id")
        self.tenant = tenant
        self._active_scope: TenantScope | None = None

    # -- life cycle -------------------------------------------------------------------

    def create(self, *, run_migrations: bool = True, announce: bool = True) -> None:
        """Provision the tenant's storage (and run its migrations), all or nothing.

        ``announce=False`` sends no ``tenant_created``: the storage is a second home of a
        tenant that exists already (the target of a move), not a new tenant.
        """
        tenant_id = self.tenant.tenant_id
        logger.info("creating tenant %s (%s)", tenant_id, self.isolation_type)
        try:
            with self._provisioning_transaction():
                self._provision(run_migrations=run_migrations)
                if announce:
                    tenant_created.send(
                        sender=type(self.tenant), tenant=self.tenant, domains=self._saved_domains()
                    )
        except Exception as exc:
            cleanup_failures: list[str] = []
            for cleanup in (self._rollback_provisioning, self._discard_record):
                try:
                    cleanup()
                except Exception as cleanup_exc:  # reported in the error raised below
                    logger.exception("cleaning up failed tenant %s", tenant_id)
                    cleanup_failures.append(f"{cleanup.__name__}: {cleanup_exc}")
            message = f"Creating tenant {tenant_id!r} failed and was rolled back: {exc}"
            if cleanup_failures:
                message = (
                    f"Creating tenant {tenant_id!r} failed ({exc}), and cleaning up failed "
                    f"too ({'; '.join(cleanup_failures)}): remove what is left by hand."
                )
            raise ProvisioningError(message) from exc

    def _saved_domains(self) -> tuple[str, ...]:
        """The tenant's domain names as saved now, primary first: ``tenant_created``'s ``domains``.

        Read from ``DOMAIN_MODEL`` on the master connection, which is inside the caller's
        creation transaction, so the rows saved before the storage are seen. A tenant that
        is not a saved row, or a project without a domain model, has none. Nothing is read
        while no receiver would get it.
        """
        tenant_pk = getattr(self.tenant, "pk", None)
        domain_model_label = backend_settings().domain_model
        if (
            tenant_pk is None
            or not domain_model_label
            or not tenant_created.has_listeners(type(self.tenant))
        ):
            return ()
        domain_model = django_apps.get_model(domain_model_label)
        with TenantContext.use_master_db():
            names = (
                domain_model._default_manager.using(backend_settings().master_database)
                .filter(tenant=tenant_pk)
                .order_by("-is_primary", "domain")
                .values_list("domain", flat=True)
            )
            return tuple(names)

    def migrate(self, **options: Any) -> None:
        """Apply outstanding migrations (``options`` go to Django's ``migrate``).

        Also for a tenant in maintenance: migrating is the operator's work on it.
        """
        with TenantContext.use_tenant(self.tenant), maintenance_writes():
            self._run_migrate(**options)
        tenant_migrated.send(sender=type(self.tenant), tenant=self.tenant)

    @contextmanager
    def migration_scope(self) -> Iterator[str]:
        """Enter the tenant as its migrations need it; yields the connection alias.

        Commands that run Django's migration machinery themselves (``migratetenant``,
        ``migratealltenants``) use this, so they migrate exactly what
        :meth:`migrate` would, and may write to a tenant in maintenance as it does.
        """
        with TenantContext.use_tenant(self.tenant), maintenance_writes(), self._migration_extras():
            yield self._migrate_database_alias()

    def _migration_extras(self) -> AbstractContextManager[object]:
        """Whatever else a migration of this storage needs entered; nothing by default."""
        return nullcontext()

    def delete(self, *, drop_data: bool = False, announce: bool = True) -> None:
        """Retire the tenant's storage; its data is dropped only with ``drop_data=True``.

        ``announce=False`` sends no ``tenant_deleted``: the tenant lives on elsewhere (a
        failed move's partial target, a moved tenant's old storage).
        """
        if drop_data:
            logger.warning("dropping the data of tenant %s", self.tenant.tenant_id)
            self._drop()
        if announce:
            tenant_deleted.send(sender=type(self.tenant), tenant=self.tenant, dropped=drop_data)

    def activate(self) -> None:
        """Enter the tenant in the current context, until :meth:`deactivate`.

        Prefer ``with TenantContext.use_tenant(tenant):``, which cannot forget to leave.
        """
        if self._active_scope is not None:
            raise RuntimeError(f"Tenant {self.tenant.tenant_id!r} is already activated.")
        scope = TenantContext.use_tenant(self.tenant)
        scope.__enter__()
        self._active_scope = scope

    def deactivate(self) -> None:
        """Leave the tenant entered by :meth:`activate`."""
        scope, self._active_scope = self._active_scope, None
        if scope is None:
            raise RuntimeError(f"Tenant {self.tenant.tenant_id!r} was not activated.")
        scope.__exit__(None, None, None)

    # -- for subclasses ---------------------------------------------------------------

    def _provisioning_transaction(self) -> AbstractContextManager[object]:
        """The transaction around provisioning; none unless the storage has one."""
        return nullcontext()

    @abstractmethod
    def _provision(self, *, run_migrations: bool) -> None:
        """Create the storage (and migrate it). Raise on any failure."""

    @abstractmethod
    def _rollback_provisioning(self) -> None:
        """Remove whatever a failed :meth:`_provision` may have left."""

    @abstractmethod
    def _drop(self) -> None:
        """Drop the tenant's storage and data."""

    def _migrate_database_alias(self) -> str:
        return backend_settings().master_database

    def _run_migrate(self, **options: Any) -> None:
        options.setdefault("verbosity", 0)
        call_command(
            "migrate",
            database=self._migrate_database_alias(),
            interactive=False,
            skip_checks=True,
            **options,
        )

    def _discard_record(self) -> None:
        tenant = self.tenant
        if not isinstance(tenant, models.Model) or tenant.pk is None:
            return
        master = backend_settings().master_database
        connection = connections[master]
        raw = connection.connection
        if connection.in_atomic_block and getattr(raw, "closed", False):
            # The row was written in a transaction that its dead connection took with
            # it: there is nothing to delete, and no way to ask.
            return
        with TenantContext.use_master_db():
            type(tenant)._default_manager.using(master).filter(pk=tenant.pk).delete()
