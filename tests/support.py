"""Small helpers shared by the test packages."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from omnitenant_context import IsolationType

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class PlainTenant:
    """A tenant that is not a Django model: proves the layers only need the Protocol."""

    tenant_id: str
    isolation_type: str = IsolationType.SCHEMA
    schema_name: str = ""
    database_alias: str = ""
    cache_namespace: str = ""


def plain_tenant(tenant_id: str, isolation_type: str = IsolationType.SCHEMA) -> PlainTenant:
    return PlainTenant(
        tenant_id=tenant_id,
        isolation_type=isolation_type,
        schema_name=tenant_id,
        database_alias=f"tenant_{tenant_id}",
        cache_namespace=tenant_id,
    )


def per_run(name: str) -> str:
    """``name`` made unique to this test run, for names the server shares between runs.

    A PostgreSQL database (or anything else outside this run's test database and
    temporary folders) named this way is never touched by another run on the machine.
    """
    return f"{name}_{os.environ['OMNITENANT_TEST_RUN']}"


def manage(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The test project's ``manage.py`` as an operator runs it, on this run's database.

    Standard input is a pipe holding ``stdin`` (never a terminal, so a prompt reads what
    the test wrote, or end of file); output is captured as text; the exit code is left for
    the test to check.
    """
    # Imported here: the Django-free packages' tests use this module without Django.
    from django.db import connections

    environ = {
        **os.environ,
        "OMNITENANT_TEST_DATABASE": connections["default"].settings_dict["NAME"],
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "tests" / "manage.py"), *args],
        capture_output=True,
        text=True,
        env=environ,
        input=stdin,
        cwd=ROOT,
        check=False,
    )
