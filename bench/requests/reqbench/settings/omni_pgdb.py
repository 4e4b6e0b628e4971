"""omnitenant, database per tenant: one PostgreSQL database per tenant.

Tenant databases are made with ``CREATE DATABASE ... TEMPLATE`` a migrated template
(``POSTGRES_TEMPLATE_DATABASE``), the documented fast path.
"""

# ruff: noqa: F403, F405 - a settings module extends the shared one
from __future__ import annotations

from reqbench.settings.common import *

INSTALLED_APPS = ["django_omnitenant", "reqbench.omni", "reqbench.notes"]
MIDDLEWARE = ["django_omnitenant.middleware.TenantMiddleware", *DJANGO_MIDDLEWARE]
DATABASES = {
    "default": pg_database(f"{DATABASE_PREFIX}omni_pgdb", "omnitenant_backends.postgresql")
}
DATABASE_ROUTERS = ["django_omnitenant.routers.TenantRouter"]
_TENANT_DEFAULTS = pg_database("", "omnitenant_backends.postgresql")
del _TENANT_DEFAULTS["NAME"]  # each tenant names its own database
OMNITENANT_CONFIG = {
    "TENANT_MODEL": "omni.Tenant",
    "DOMAIN_MODEL": "omni.Domain",
    "PUBLIC_HOST": "public.bench.test",
    "TENANT_RESOLVER": "django_omnitenant.resolvers.CustomDomainTenantResolver",
    "MASTER_APPS": ["omni"],
    "TENANT_APPS": ["notes"],
    "SHARED_APPS": ["django_omnitenant"],
    "TENANT_CACHE_TTL": WARM_TENANT_CACHE_TTL,
    "DATABASE_DEFAULTS": _TENANT_DEFAULTS,
    "POSTGRES_TEMPLATE_DATABASE": f"{DATABASE_PREFIX}omni_pgdb_template",
}
