"""omnitenant, schema per tenant, with the tenant cache's version in Redis.

The same as :mod:`.omni_schema`, but ``TENANT_CACHE_ALIAS`` is a Redis cache, as the
documentation asks for when several processes serve requests; with the default
``TENANT_CACHE_VERSION_CHECK_INTERVAL`` of 0 every lookup reads the version there.
"""

# ruff: noqa: F403, F405 - a settings module extends the shared one
from __future__ import annotations

import os

from reqbench.settings.omni_schema import *

DATABASES = {
    "default": pg_database(f"{DATABASE_PREFIX}omni_redis", "omnitenant_backends.postgresql")
}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "tenants": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "KEY_PREFIX": f"{DATABASE_PREFIX}{os.getpid()}",
    },
}
OMNITENANT_CONFIG = {**OMNITENANT_CONFIG, "TENANT_CACHE_ALIAS": "tenants"}
