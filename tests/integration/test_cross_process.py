"""A domain changed by another process is seen by this process's next request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client, override_settings

from tests.integration.test_request_flow import tenants  # noqa: F401 - fixture

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import django
django.setup()
from tests.testapp.models import Domain
Domain.objects.filter(domain="{old}").update(domain="{new}")
"""


def run_child(old: str, new: str) -> None:
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "OMNITENANT_TEST_DATABASE": connections["default"].settings_dict["NAME"],
        "OMNITENANT_TEST_TENANT_CACHE": "shared",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [sys.executable, "-c", CHILD.format(old=old, new=new)], check=True, env=environ, cwd=ROOT
    )


def test_change_in_another_process_is_seen_without_restart(
    tenants: list[Any],  # noqa: F811 - the fixture imported above
) -> None:
    # Interval 0: this process reads the shared version on every lookup, so the very
    # next request sees the other process's change (by default: within a second).
    config = {
        **settings.OMNITENANT_CONFIG,
        "TENANT_CACHE_ALIAS": "shared",
        "TENANT_CACHE_VERSION_CHECK_INTERVAL": 0,
    }
    with override_settings(OMNITENANT_CONFIG=config):
        client = Client()
        assert client.get("/whoami/", HTTP_HOST="web-4.example.test").status_code == 200
        assert client.get("/whoami/", HTTP_HOST="elsewhere.example.test").status_code == 404
        run_child("web-4.example.test", "elsewhere.example.test")
        try:
            response = client.get("/whoami/", HTTP_HOST="elsewhere.example.test")
            assert response.status_code == 200
            assert response.json()["tenant"] == "web_4"
            assert client.get("/whoami/", HTTP_HOST="web-4.example.test").status_code == 404
        finally:
            run_child("elsewhere.example.test", "web-4.example.test")
        assert client.get("/whoami/", HTTP_HOST="web-4.example.test").status_code == 200
