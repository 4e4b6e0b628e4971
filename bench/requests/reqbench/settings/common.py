"""What every variant's settings share: the same view, middleware and database server.

Read by the worker process of each variant; ``BENCH_*`` variables come from ``run.py``.
"""

from __future__ import annotations

import os
from typing import Any

#: Every scratch database of this run starts with this (dropped at the end). Per run (the
#: pid of run.py, inherited by its workers through the environment), so two runs on one
#: server never drop each other's databases.
DATABASE_PREFIX = os.environ.setdefault("BENCH_DATABASE_PREFIX", f"bench_req{os.getpid()}_")

SECRET_KEY = "bench-requests-only-not-a-secret"  # noqa: S105 - a fixed key for a benchmark
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "reqbench.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# No templates, sessions or auth: the view renders JSON and touches one table.
TEMPLATES: list[dict[str, Any]] = []
LOGGING_CONFIG = None

#: omnitenant variants keep resolved tenants this long, whatever the library's default
#: (it was 300 s): a phase with 1,000 tenants on a slow machine can visit each tenant less
#: often than every 5 minutes, and an expired entry costs a lookup (a SELECT, plus a SET
#: with persistent connections), which is not the warm path this benchmark measures.
WARM_TENANT_CACHE_TTL = 3600.0

#: Django's SQL-free middleware, the same in every variant; the tenant middleware of a
#: variant goes in front of it, as both libraries document.
DJANGO_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def pg_database(name: str, engine: str) -> dict[str, Any]:
    """A PostgreSQL entry of ``DATABASES`` on the benchmark's server.

    ``TimeZone=UTC`` goes in the connection's start-up options for every variant alike:
    this server's own zone is ``Etc/UTC``, and Django sends ``BEGIN`` / ``SELECT
    set_config('TimeZone', 'UTC')`` / ``COMMIT`` on every new connection whose zone is not
    spelled exactly ``UTC`` -- three round trips that would dilute every comparison.
    """
    return {
        "ENGINE": engine,
        "NAME": name,
        "HOST": os.environ.get("BENCH_PGHOST", "127.0.0.1"),
        "PORT": int(os.environ.get("BENCH_PGPORT", "5432")),
        "USER": os.environ.get("BENCH_PGUSER", "postgres"),
        "PASSWORD": os.environ.get("BENCH_PGPASSWORD", ""),
        "CONN_MAX_AGE": 0,  # switched by the worker for each connection mode
        "OPTIONS": {"options": "-c TimeZone=UTC"},
    }
