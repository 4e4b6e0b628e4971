"""django-tenants 4.0.1, schema per tenant, as its documentation sets it up.

Tenant schemas hold the same apps as omnitenant's: contenttypes, auth and notes.
"""

# ruff: noqa: F403, F405 - a settings module extends the shared one
from __future__ import annotations

from migbench.settings.common import *

SHARED_APPS = [
    "django_tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "reqbench.dt",
]
TENANT_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "reqbench.notes"]
INSTALLED_APPS = [*SHARED_APPS, *(app for app in TENANT_APPS if app not in SHARED_APPS)]
DATABASES = {"default": database("django_tenants.postgresql_backend")}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
TENANT_MODEL = "dt.Client"
TENANT_DOMAIN_MODEL = "dt.Domain"
#: The parallel executor (``--executor multiprocessing``): its pool size and chunk size.
TENANT_MULTIPROCESSING_MAX_PROCESSES = 2
TENANT_MULTIPROCESSING_CHUNKS = 2
