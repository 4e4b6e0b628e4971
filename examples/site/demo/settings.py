"""Settings of the omnitenant example site.

With no DATABASE_URL: an SQLite master database and database tenants on SQLite files, no
server needed. With DATABASE_URL=postgres://user@host:port/name: PostgreSQL, and the tenants
(the two of setup_demo and those signed up on the public page) are schema tenants of it.

Users, sessions and the admin's log are shared apps: the master has its own (the
operators of the public host) and every tenant has its own (its members), so signing in
on one tenant's host signs in nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the SQLite files go; the example's own test points it at a temporary folder.
VAR_DIR = Path(os.environ.get("OMNITENANT_EXAMPLE_VAR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-site-only-not-a-secret")
DEBUG = True
ALLOWED_HOSTS = ["localhost", ".localhost", "127.0.0.1"]
USE_TZ = True

INSTALLED_APPS = [
    "demo",  # first: its templates (the sign-in page) win over the admin's
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_omnitenant",
    "customers",
    "notes",
]
MIDDLEWARE = [
    # First: everything after it (sessions, users, messages) runs inside the host's tenant.
    "django_omnitenant.middleware.TenantMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "demo.urls_public"  # imported outside any tenant: reads no tenant rows
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "demo.context_processors.site",
            ]
        },
    }
]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Tenant-aware: a key written inside one tenant is never read inside another.
CACHES = {"default": {"BACKEND": "omnitenant_backends.cache.LocMemCache"}}
# Served by runserver from the apps' static/ folders (the site's CSS, the admin's).
STATIC_URL = "/static/"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Uploaded files: one folder per tenant below MEDIA_ROOT (var/media/acme/...), served by
# runserver below MEDIA_URL (demo/urls.py).
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django_omnitenant.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def _database_from_url(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError("DATABASE_URL must be a postgres:// URL.")
    return {
        "ENGINE": "omnitenant_backends.postgresql",
        "NAME": parts.path.lstrip("/") or "omnitenant_example",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": parts.port or "",
    }


DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": _database_from_url(DATABASE_URL)}
    DEMO_ISOLATION = "schema"
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "master.sqlite3"}
    }
    DEMO_ISOLATION = "database"
# Tenants signed up on the public page get the host <tenant id>.localhost; browsers
# resolve every *.localhost name to the loopback address, so no DNS set-up is needed.
DEMO_TENANT_HOST_SUFFIX = "localhost"
DATABASE_ROUTERS = ["django_omnitenant.routers.TenantRouter"]

OMNITENANT_CONFIG = {
    "TENANT_MODEL": "customers.Tenant",
    "DOMAIN_MODEL": "customers.Domain",
    "PUBLIC_HOST": "localhost",
    # URLconfs by kind of host: the sign-up page on localhost, the product on tenants.
    "PUBLIC_URLCONF": "demo.urls_public",
    "TENANT_URLCONF": "demo.urls",
    "TENANT_RESOLVER": "django_omnitenant.resolvers.SubdomainTenantResolver",
    "MASTER_APPS": ["demo"],  # customers, the tenant model's app, is master unlisted
    "TENANT_APPS": ["notes"],
    "SHARED_APPS": [
        "admin",
        "contenttypes",
        "auth",
        "sessions",
        "messages",
        "django_omnitenant",
    ],
    "SQLITE_DIRECTORY": VAR_DIR / "tenants",
}
