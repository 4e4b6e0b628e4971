"""django-tenants 4.0.1 as its documentation sets it up: schema per tenant."""

# ruff: noqa: F403, F405 - a settings module extends the shared one
from __future__ import annotations

from reqbench.settings.common import *

SHARED_APPS = ["django_tenants", "django.contrib.contenttypes", "reqbench.dt"]
TENANT_APPS = ["reqbench.notes"]
INSTALLED_APPS = [*SHARED_APPS, *(app for app in TENANT_APPS if app not in SHARED_APPS)]
MIDDLEWARE = ["django_tenants.middleware.main.TenantMainMiddleware", *DJANGO_MIDDLEWARE]
DATABASES = {"default": pg_database(f"{DATABASE_PREFIX}dt", "django_tenants.postgresql_backend")}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
TENANT_MODEL = "dt.Client"
TENANT_DOMAIN_MODEL = "dt.Domain"
#: The schema new tenants are cloned from (django-tenants' CloneSchema).
BENCH_BASE_SCHEMA = "bench_base"
