"""Settings of the omnitenant example site.

With no DATABASE_URL: an SQLite master database and two database tenants on SQLite files,
no server needed. With DATABASE_URL=postgres://user@host:port/name: PostgreSQL, and the two
tenants become schema tenants of that database.
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
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_omnitenant",
    "customers",
    "notes",
    "demo",
]
MIDDLEWARE = ["django_omnitenant.middleware.TenantMiddleware"]
ROOT_URLCONF = "demo.urls_public"  # imported outside any tenant: reads no tenant rows
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "demo" / "templates"],
    }
]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
DATABASE_ROUTERS = ["django_omnitenant.routers.TenantRouter"]

OMNITENANT_CONFIG = {
    "TENANT_MODEL": "customers.Tenant",
    "DOMAIN_MODEL": "customers.Domain",
    "PUBLIC_HOST": "localhost",
    # URLconfs by kind of host: the sign-up page on localhost, the product on tenants.
    "PUBLIC_URLCONF": "demo.urls_public",
    "TENANT_URLCONF": "demo.urls",
    "TENANT_RESOLVER": "django_omnitenant.resolvers.SubdomainTenantResolver",
    "MASTER_APPS": ["customers", "demo"],
    "TENANT_APPS": ["notes"],
    "SHARED_APPS": ["contenttypes", "auth", "django_omnitenant"],
    "SQLITE_DIRECTORY": VAR_DIR / "tenants",
}
