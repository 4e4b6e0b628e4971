"""Tenant-scoped caching: name one of these classes as a ``BACKEND`` in ``CACHES``.

Each class is the Django backend of the same name, made tenant-aware by
:class:`TenantCacheMixin`; only the aliases that name one are affected::

    CACHES = {
        "default": {
            "BACKEND": "django_omnitenant.patches.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            # Optional: reuse a tenant's generation for 2 s per cache object (faster;
            # another process's clear() is seen up to 2 s late). Default 0: always read.
            # "TENANT_GENERATION_MEMO_SECONDS": 2,
        },
        "local": {"BACKEND": "django_omnitenant.patches.cache.LocMemCache"},
    }

Inside ``TenantContext.use_tenant(tenant)`` every key is the tenant's own; with no tenant
active, or inside ``TenantContext.use_master_db()``, keys are the plain global keys.
``cache.clear()`` inside a tenant forgets only that tenant's entries (in O(1));
**with no tenant active it empties the whole cache, every tenant included**, as Django's
does. To forget one tenant from anywhere use :func:`clear_tenant_cache` or
``CacheTenantBackend(tenant).delete(drop_data=True)``. The full rules are in
:mod:`omnitenant_backends.cache`.

Also available: ``FileBasedCache``, ``DatabaseCache``, ``PyMemcacheCache`` and
``PyLibMCCache``; any other backend class becomes tenant-aware as
``class MyCache(TenantCacheMixin, OtherBackend)``.
"""

from omnitenant_backends.cache import (
    DatabaseCache,
    FileBasedCache,
    LocMemCache,
    PyLibMCCache,
    PyMemcacheCache,
    RedisCache,
    TenantCacheMixin,
    clear_tenant_cache,
    tenant_cache_aliases,
)

__all__ = [
    "DatabaseCache",
    "FileBasedCache",
    "LocMemCache",
    "PyLibMCCache",
    "PyMemcacheCache",
    "RedisCache",
    "TenantCacheMixin",
    "clear_tenant_cache",
    "tenant_cache_aliases",
]
