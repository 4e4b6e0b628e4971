"""omnitenant, schema per tenant. Tenant schemas hold contenttypes, auth and notes."""

# ruff: noqa: F403, F405 - a settings module extends the shared one
from __future__ import annotations

from migbench.settings.common import *

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_omnitenant",
    "reqbench.omni",
    "reqbench.notes",
]
DATABASES = {"default": database("omnitenant_backends.postgresql")}
DATABASE_ROUTERS = ["django_omnitenant.routers.TenantRouter"]
OMNITENANT_CONFIG = {
    "TENANT_MODEL": "omni.Tenant",
    "DOMAIN_MODEL": "omni.Domain",
    "PUBLIC_HOST": "public.bench.test",
    "MASTER_APPS": ["omni"],
    "TENANT_APPS": ["notes"],
    # In the master database and in every tenant, as django-tenants' side below.
    "SHARED_APPS": ["contenttypes", "auth", "django_omnitenant"],
}
