"""omnitenant's settings (``OMNITENANT_CONFIG``); see :mod:`omnitenant_backends.conf`.

Every key, its default and its effect::

    OMNITENANT_CONFIG = {
        "TENANT_MODEL": "myapp.Tenant",        # required: your BaseTenant subclass
        "DOMAIN_MODEL": "myapp.Domain",        # required: your BaseDomain subclass
        "PUBLIC_HOST": None,                   # host served without a tenant
        "PUBLIC_TENANT_NAME": "public",        # the shared PostgreSQL schema
        "MASTER_TENANT_NAME": "master",        # name of the master scope in commands
        "MASTER_DATABASE": "default",          # alias of the master database
        "TENANT_RESOLVER": "django_omnitenant.resolvers.CustomDomainTenantResolver",
        "MASTER_APPS": (), "TENANT_APPS": (), "SHARED_APPS": (),   # app scopes
        "DEFAULT_APP_SCOPE": "shared",         # scope of apps in none of the lists
        "SCHEMA_TEMPLATE": "omnitenant_template",   # schema cloned for new tenants
        "CLONE_SCHEMA_TEMPLATE": True,         # False: run migrations for each tenant
        "DATABASE_DEFAULTS": {},               # merged under each tenant's database_config
        "SQLITE_DIRECTORY": None,              # where SQLite tenant files go
        "POSTGRES_TEMPLATE_DATABASE": None,    # CREATE DATABASE ... TEMPLATE this
        "MAX_OPEN_TENANT_CONNECTIONS": 32,     # per thread, least recently used closed
        "TENANT_CACHE_TTL": 3600.0,            # seconds a resolved tenant stays cached
        "TENANT_CACHE_NEGATIVE_TTL": 30.0,     # seconds an unknown host stays cached
        "TENANT_CACHE_MAX_SIZE": 10_000,       # cached lookups per process (LRU)
        "TENANT_CACHE_ALIAS": "default",       # Django cache holding the shared version
        "TENANT_CACHE_VERSION_CHECK_INTERVAL": 1.0,  # seconds between version reads
        "UNKNOWN_HOST": "not_found",           # or "public": serve without a tenant
    }

The values are re-read when ``override_settings`` changes ``OMNITENANT_CONFIG``.
"""

from omnitenant_backends.conf import (
    DEFAULTS,
    AppScope,
    OmnitenantConfigurationError,
    OmnitenantSettings,
    omnitenant_settings,
)

__all__ = [
    "DEFAULTS",
    "AppScope",
    "OmnitenantConfigurationError",
    "OmnitenantSettings",
    "omnitenant_settings",
]
