"""A project configured with only the API reference's six keys works from the start.

The test writes such a project (a ``customers`` app with the tenant and domain models, a
``notes`` app listed nowhere) into a temporary folder and drives it the way a new user
would, through ``manage.py`` in child processes, on the real PostgreSQL server: no
``MASTER_APPS`` is needed for the app that holds the tenant model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

pytestmark = pytest.mark.postgres

HOST = os.environ.get("OMNITENANT_PGHOST", "127.0.0.1")
USER = os.environ.get("OMNITENANT_PGUSER", "postgres")

SETTINGS = """
SECRET_KEY = "zero-config-test-only"
USE_TZ = True
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_omnitenant",
    "customers",
    "notes",
]
DATABASES = {{
    "default": {{
        "ENGINE": "omnitenant_backends.postgresql",
        "NAME": {database!r},
        "HOST": {host!r},
        "PORT": 5432,
        "USER": {user!r},
    }}
}}
DATABASE_ROUTERS = ["django_omnitenant.routers.TenantRouter"]
OMNITENANT_CONFIG = {{
    "TENANT_MODEL": "customers.Tenant",
    "DOMAIN_MODEL": "customers.Domain",
    "PUBLIC_HOST": "example.com",
    "PUBLIC_TENANT_NAME": "public",
    "MASTER_TENANT_NAME": "master",
    "TENANT_RESOLVER": "django_omnitenant.resolvers.CustomDomainTenantResolver",
}}
"""

MANAGE = """
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""

CUSTOMERS_MODELS = """
from django_omnitenant.models import BaseDomain, BaseTenant


class Tenant(BaseTenant):
    pass


class Domain(BaseDomain):
    pass
"""

NOTES_MODELS = """
from django.db import models


class Note(models.Model):
    text = models.TextField()
"""


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(host=HOST, user=USER, dbname="postgres", autocommit=True)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    database = f"omnitenant_zero_config_{os.environ['OMNITENANT_TEST_RUN']}"
    (tmp_path / "settings.py").write_text(SETTINGS.format(database=database, host=HOST, user=USER))
    (tmp_path / "manage.py").write_text(MANAGE)
    for app, models in (("customers", CUSTOMERS_MODELS), ("notes", NOTES_MODELS)):
        (tmp_path / app / "migrations").mkdir(parents=True)
        (tmp_path / app / "__init__.py").write_text("")
        (tmp_path / app / "migrations" / "__init__.py").write_text("")
        (tmp_path / app / "models.py").write_text(models)
    with _admin() as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        yield tmp_path, database
    finally:
        with _admin() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )


def manage(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(folder)}
    environ.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=folder,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tables(database: str, schema: str) -> set[str]:
    with psycopg.connect(host=HOST, user=USER, dbname=database) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchall()
    return {str(row[0]) for row in rows}


def test_the_six_reference_keys_start_a_working_project(project: tuple[Path, str]) -> None:
    folder, database = project
    made = manage(folder, "makemigrations", "customers", "notes")
    assert made.returncode == 0, made.stderr

    # The tenant model's app is master without being listed: no E004. The apps listed
    # nowhere keep the default scope, and the warning says so.
    checked = manage(folder, "check")
    assert checked.returncode == 0, checked.stderr
    assert "omnitenant.E004" not in checked.stderr
    assert "omnitenant.W002" in checked.stderr
    warning = next(line for line in checked.stderr.splitlines() if "omnitenant.W002" in line)
    assert "notes" in warning
    assert "customers" not in warning

    migrated = manage(folder, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr

    created = manage(
        folder, "createtenant", "--noinput", "--tenant-id", "acme", "--domain", "acme.example.com"
    )
    assert created.returncode == 0, created.stderr
    assert "acme" in created.stdout

    # The master holds the tenant and domain rows; the tenant's schema gets the shared
    # apps (notes, auth) and never the master-only tables.
    master = tables(database, "public")
    assert {"customers_tenant", "customers_domain", "notes_note"} <= master
    tenant = tables(database, "acme")
    assert "notes_note" in tenant
    assert "auth_user" in tenant
    assert not {"customers_tenant", "customers_domain"} & tenant

    shown = manage(folder, "showtenants")
    assert shown.returncode == 0, shown.stderr
    assert "acme.example.com" in shown.stdout
