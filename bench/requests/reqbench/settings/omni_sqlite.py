"""omnitenant, database per tenant: one SQLite file per tenant (master on PostgreSQL)."""

# ruff: noqa: F403, F405 - a settings module extends the shared one
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reqbench.counting import CountingSQLiteConnection
from reqbench.settings.common import *

INSTALLED_APPS = ["django_omnitenant", "reqbench.omni", "reqbench.notes"]
MIDDLEWARE = ["django_omnitenant.middleware.TenantMiddleware", *DJANGO_MIDDLEWARE]
DATABASES = {
    "default": pg_database(f"{DATABASE_PREFIX}omni_sqlite", "omnitenant_backends.postgresql")
}
DATABASE_ROUTERS = ["django_omnitenant.routers.TenantRouter"]
SQLITE_DIRECTORY = Path(
    os.environ.get("BENCH_SQLITE_DIRECTORY")
    or Path(tempfile.gettempdir()) / f"{DATABASE_PREFIX}sqlite"
)
OMNITENANT_CONFIG = {
    "TENANT_MODEL": "omni.Tenant",
    "DOMAIN_MODEL": "omni.Domain",
    "PUBLIC_HOST": "public.bench.test",
    "TENANT_RESOLVER": "django_omnitenant.resolvers.CustomDomainTenantResolver",
    "MASTER_APPS": ["omni"],
    "TENANT_APPS": ["notes"],
    "SHARED_APPS": ["django_omnitenant"],
    "TENANT_CACHE_TTL": WARM_TENANT_CACHE_TTL,
    "SQLITE_DIRECTORY": SQLITE_DIRECTORY,
    "DATABASE_DEFAULTS": {
        "ENGINE": "django.db.backends.sqlite3",
        "CONN_MAX_AGE": 0,
        "OPTIONS": {"factory": CountingSQLiteConnection},
    },
}
