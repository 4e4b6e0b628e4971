"""What both tools' settings share: the server, the tenant apps, the release switch.

The models and the tenant app (``notes``) are the request benchmark's (``reqbench``, on
``PYTHONPATH`` next to this package); only the settings are this benchmark's own. Read in
the subprocess of each step; the ``BENCH_MIGRATE_*`` variables come from ``run.py``.
"""

from __future__ import annotations

import os

from reqbench.settings.common import pg_database

#: Every scratch database of this benchmark starts with this (dropped at the end).
DATABASE_PREFIX = "bench_migrate_"

SECRET_KEY = "bench-migrate-only-not-a-secret"  # noqa: S105 - a fixed key for a benchmark
DEBUG = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING_CONFIG = None

#: The database of this step (a copy per variant, made by run.py).
DATABASE_NAME = os.environ.get("BENCH_MIGRATE_DB", f"{DATABASE_PREFIX}unset")

#: With ``BENCH_MIGRATE_RELEASE=1`` the tenant app ``notes`` has one migration more
#: (``0002_release``): a release that every tenant must apply (scenario B).
RELEASE = os.environ.get("BENCH_MIGRATE_RELEASE") == "1"
MIGRATION_MODULES = {"notes": "migbench.release.migrations"} if RELEASE else {}


def database(engine: str) -> dict[str, object]:
    entry = pg_database(DATABASE_NAME, engine)
    entry["CONN_MAX_AGE"] = None
    return entry
