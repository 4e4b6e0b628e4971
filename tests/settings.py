"""Django settings for the omnitenant test suite."""

from __future__ import annotations

SECRET_KEY = "omnitenant-tests-only-not-a-secret"  # noqa: S105 - fixed key for tests
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
