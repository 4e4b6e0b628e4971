"""omnitenant, schema per tenant: custom-domain resolver, the omnitenant engine."""

# ruff: noqa: F403, F405 - a settings module extends the shared one
from __future__ import annotations

from reqbench.settings.common import *

INSTALLED_APPS = ["django_omnitenant", "reqbench.omni", "reqbench.notes"]
MIDDLEWARE = ["django_omnitenant.middleware.TenantMiddleware", *DJANGO_MIDDLEWARE]
DATABASES = {
    "default": pg_database(f"{DATABASE_PREFIX}omni_schema", "omnitenant_backends.postgresql")
}
DATABASE_ROUTERS = ["django_omnitenant.routers.TenantRouter"]
OMNITENANT_CONFIG = {
    "TENANT_MODEL": "omni.Tenant",
    "DOMAIN_MODEL": "omni.Domain",
    "PUBLIC_HOST": "public.bench.test",
    "TENANT_RESOLVER": "django_omnitenant.resolvers.CustomDomainTenantResolver",
    "MASTER_APPS": ["omni"],
    "TENANT_APPS": ["notes"],
    "SHARED_APPS": ["django_omnitenant"],
    "TENANT_CACHE_TTL": WARM_TENANT_CACHE_TTL,
}
# The cached tenant lookup keeps its invalidation version in the "default" cache, Django's
# local-memory cache here (one process). See BENCH_TENANT_CACHE in omni_schema_redis.
