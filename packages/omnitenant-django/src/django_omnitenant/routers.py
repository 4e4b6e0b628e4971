"""The database router: sends each model to the master or the active tenant's database.

Every app has a scope (``OMNITENANT_CONFIG`` ``MASTER_APPS`` / ``TENANT_APPS`` /
``SHARED_APPS``, by app label; ``DEFAULT_APP_SCOPE`` for the rest, ``"shared"`` unless set):

* ``master`` models live only in the master database (its shared schema): tenants,
  domains, anything global. They are always routed there, inside tenants too: while a
  schema tenant is active (whose path holds its own schema alone) through the master
  route, the master connection with the shared schema's path on its statements (see
  :mod:`omnitenant_backends.postgresql.master_route`).
* ``tenant`` models live in every tenant and nowhere else. With no tenant active a query
  raises :class:`~omnitenant_context.NoTenantActive` instead of reading shared data.
* ``shared`` models live in both; they follow the active tenant, or the master without one.

Schema tenants use the connection of the server they live on (the master unless placed
on another ``DATABASES`` alias, see :mod:`omnitenant_backends.placement`), whose engine
switches ``search_path``; database tenants get their own connection alias, registered on
first use. Writes to any tenant connection other than the master's are refused while an
atomic block on the master does not cover them (:mod:`omnitenant_backends.transactions`).
"""

from __future__ import annotations

from typing import Any

from django.db import models

from omnitenant_backends import tenant_database_alias
from omnitenant_backends.conf import backend_settings
from omnitenant_backends.database import is_tenant_database_alias
from omnitenant_backends.placement import SERVER_ATTRIBUTE, is_server, tenant_server
from omnitenant_backends.postgresql.master_route import is_master_route, master_route_alias
from omnitenant_backends.transactions import check_tenant_write
from omnitenant_context import IsolationType, NoTenantActive, TenantContext

__all__ = ["TenantRouter"]


class TenantRouter:
    """Add ``"django_omnitenant.routers.TenantRouter"`` to ``DATABASE_ROUTERS``."""

    def _route(self, model: type[models.Model]) -> str:
        conf = backend_settings()
        scope = conf.app_scope(model._meta.app_label)
        if scope == "master":
            if migrating_tenant_schema():
                return master_route_alias(conf.master_database)
            return conf.master_database
        state = TenantContext.get_state()
        tenant = state.tenant
        if tenant is None or state.master:
            if scope == "tenant" and state.schema is None:
                app = model._meta.app_label
                raise NoTenantActive(
                    f"{model._meta.label} is tenant-scoped (the app {app!r} is in "
                    "TENANT_APPS) and no tenant is active: run the query inside "
                    "TenantContext.use_tenant(tenant). If this is a middleware or view "
                    "running on the public host, wrap the middleware with "
                    "django_omnitenant.hostkinds.tenant_only(), serve the public host with "
                    f"its own PUBLIC_URLCONF, or put {app!r} in SHARED_APPS."
                )
            return conf.master_database
        if tenant.isolation_type == IsolationType.DATABASE:
            return tenant_database_alias(tenant)
        # The warm path (a tenant on the master) costs one attribute read more.
        server = getattr(tenant, SERVER_ATTRIBUTE, None)
        if not server or server == conf.master_database:
            return conf.master_database
        return tenant_server(tenant)

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str:
        return self._route(model)

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str:
        alias = self._route(model)
        if alias != backend_settings().master_database and (
            is_tenant_database_alias(alias) or is_server(alias)
        ):
            # A write outside the open transaction would survive its rollback.
            check_tenant_write(alias)
        return alias

    def allow_relation(self, obj1: models.Model, obj2: models.Model, **hints: Any) -> bool | None:
        # Rows of two databases can never reference each other (the master route is the
        # master database).
        master = backend_settings().master_database
        first, second = (_database_of(obj._state.db, master) for obj in (obj1, obj2))
        if first and second and first != second:
            return False
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        conf = backend_settings()
        scope = conf.app_scope(app_label)
        if is_tenant_database_alias(db):
            return scope != "master"
        master = db == conf.master_database
        if not master and not is_server(db):
            return None
        if migrating_tenant_schema():
            return scope != "master"
        # Another server's shared schema holds nothing: its schemas are tenants', the
        # template's and the warm pool's, each migrated with its own path.
        return master and scope != "tenant"


def _database_of(alias: str | None, master: str) -> str | None:
    return master if alias is not None and is_master_route(alias, master) else alias


def migrating_tenant_schema() -> bool:
    """Whether the master connection's path is a tenant's schema now (not the shared one):
    migrations then target that schema, and master-scoped models take the master route."""
    state = TenantContext.get_state()
    public = backend_settings().public_schema
    if state.schema is not None:
        return state.schema != public
    tenant = state.tenant
    return tenant is not None and not state.master and tenant.isolation_type == IsolationType.SCHEMA
