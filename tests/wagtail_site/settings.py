"""The Wagtail project's settings: the test suite's, plus Wagtail as tenant apps.

Every tenant is a Wagtail site of its own (Wagtail, taggit and the project's ``home`` app
in ``TENANT_APPS``); admin, auth, contenttypes, sessions and messages are shared (a table
in the master and in every tenant), the tenant registry stays in the master.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.settings import *  # noqa: F403 - the suite's settings are the base
from tests.settings import _RUN, INSTALLED_APPS, MIDDLEWARE, OMNITENANT_CONFIG

WAGTAIL_APPS = [
    "tests.wagtail_site.home",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
]
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.staticfiles", *WAGTAIL_APPS]

OMNITENANT_CONFIG = {
    **OMNITENANT_CONFIG,
    "TENANT_APPS": [
        *OMNITENANT_CONFIG["TENANT_APPS"],
        "home",
        "wagtailcore",
        "wagtailadmin",
        "wagtailsites",
        "wagtailusers",
        "wagtailsnippets",
        "wagtaildocs",
        "wagtailimages",
        "wagtailsearch",
        "taggit",
    ],
}

MIDDLEWARE = [
    *MIDDLEWARE,
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "tests.wagtail_site.urls"

WAGTAIL_SITE_NAME = "omnitenant on Wagtail"
WAGTAILADMIN_BASE_URL = "http://example.test"
# The page editor's comment formsets are not what this suite is about.
WAGTAILADMIN_COMMENTS_ENABLED = False
STATIC_URL = "/static/"
MEDIA_URL = "/media/"
MEDIA_ROOT = str(Path(tempfile.gettempdir()) / f"omnitenant-wagtail-media-{_RUN}")
# Wagtail warns without it; the suite turns warnings into errors.
WAGTAILADMIN_STATIC_FILE_VERSION_STRINGS = False
