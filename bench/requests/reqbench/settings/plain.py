"""Plain Django: no tenancy, one ``Note`` table with the same ten rows."""

# ruff: noqa: F403, F405 - a settings module extends the shared one
from __future__ import annotations

from reqbench.settings.common import *

INSTALLED_APPS = ["reqbench.notes"]
MIDDLEWARE = list(DJANGO_MIDDLEWARE)
DATABASES = {"default": pg_database(f"{DATABASE_PREFIX}plain", "django.db.backends.postgresql")}
