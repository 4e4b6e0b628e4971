"""Django settings for the omnitenant test suite.

The master database is the PostgreSQL server of this machine (through the omnitenant
engine); pytest-django creates and drops its test database. Database tenants on SQLite
write their files under a per-run temporary directory.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

SECRET_KEY = "omnitenant-tests-only-not-a-secret"  # noqa: S105 - fixed key for tests
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
BASE_DIR = Path(__file__).resolve().parent
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sites",
    "django_omnitenant",
    "tests.testapp",
    "tests.tenantapp",
]

# One name per test run for everything the run creates (test database, SQLite folder,
# cache prefix), so two runs on one machine never share one. It is put into the
# environment, so the child processes a test starts (a Celery worker, a command) inherit
# the parent's names.
_RUN = os.environ.setdefault(
    "OMNITENANT_TEST_RUN", f"py{sys.version_info.major}{sys.version_info.minor}_{os.getpid()}"
)
# The process that named the run removes its SQLite folder at the end (tests/conftest.py).
os.environ.setdefault("OMNITENANT_TEST_RUN_OWNER", str(os.getpid()))
DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        "ENGINE": "omnitenant_backends.postgresql",
        "NAME": "omnitenant",
        "HOST": os.environ.get("OMNITENANT_PGHOST", "127.0.0.1"),
        "PORT": 5432,
        "USER": os.environ.get("OMNITENANT_PGUSER", "postgres"),
        # OMNITENANT_TEST_DB_NAME lets two runs on one machine use two databases.
        "TEST": {"NAME": os.environ.get("OMNITENANT_TEST_DB_NAME", f"test_omnitenant_{_RUN}")},
    },
}
# A child process started by a test works on the parent's test database.
if os.environ.get("OMNITENANT_TEST_DATABASE"):
    DATABASES["default"]["NAME"] = os.environ["OMNITENANT_TEST_DATABASE"]
DATABASE_ROUTERS = ["django_omnitenant.routers.TenantRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

OMNITENANT_CONFIG: dict[str, Any] = {
    "TENANT_MODEL": "testapp.Tenant",
    "DOMAIN_MODEL": "testapp.Domain",
    "PUBLIC_HOST": "example.test",
    # django_cache: the tables of Django's DatabaseCache (its pseudo-app label) live in the
    # master's shared schema; the tenant-aware cache namespaces the keys in them.
    "MASTER_APPS": ["testapp", "django_cache"],
    "TENANT_APPS": ["tenantapp"],
    "TENANT_SITES": True,
    "SHARED_APPS": [
        "admin",
        "contenttypes",
        "auth",
        "sessions",
        "messages",
        "sites",
        "django_omnitenant",
    ],
    "SQLITE_DIRECTORY": str(Path(tempfile.gettempdir()) / f"omnitenant-tests-{_RUN}"),
    "TENANT_CACHE_ALIAS": os.environ.get("OMNITENANT_TEST_TENANT_CACHE", "default"),
}

CACHES = {
    # Tenant-aware: cache_page and {% cache %} keep tenants apart (omnitenant.W003).
    "default": {"BACKEND": "omnitenant_backends.cache.LocMemCache"},
    # The real Redis of this machine, for what must be shared between processes.
    "shared": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/15",
        "KEY_PREFIX": f"omnitenant-tests-{_RUN}",
    },
}

# Channels (tests/channels): the in-memory layer in one process, the real Redis across
# processes; both with group names per tenant. Keys carry the run's name and expire.
CHANNEL_LAYERS = {
    "default": {"BACKEND": "django_omnitenant.channels.TenantInMemoryChannelLayer"},
    "redis": {
        "BACKEND": "django_omnitenant.channels.redis.TenantRedisChannelLayer",
        "CONFIG": {
            "hosts": ["redis://127.0.0.1:6379/15"],
            "prefix": f"omnitenant-tests-{_RUN}-asgi",
            "expiry": 10,
            "group_expiry": 60,
        },
    },
}

SITE_ID = 1

ROOT_URLCONF = "tests.urls"
MIDDLEWARE = [
    "django_omnitenant.middleware.TenantMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
# Tests create users often; the real hashers are slow on purpose.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
