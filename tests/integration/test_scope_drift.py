"""An app whose scope changed after its first migrate is detected (omnitenant.W013).

Django records the app's migrations in every storage, also where no table was made, so
after the change ``migrate`` applies nothing and the tables stay missing.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from django_omnitenant.scopedrift import check_scope_drift

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("live_db")]


def rescoped(app: str, to: str) -> Any:
    config: dict[str, Any] = dict(settings.OMNITENANT_CONFIG)
    for key in ("MASTER_APPS", "TENANT_APPS", "SHARED_APPS"):
        config[key] = [label for label in config.get(key, []) if label != app]
    config[to] = [*config[to], app]
    return override_settings(OMNITENANT_CONFIG=config)


def drift(app: str) -> list[str]:
    return [
        message.msg
        for message in check_scope_drift(databases=["default"])
        if f"app {app!r}" in message.msg
    ]


def test_no_drift_as_migrated(tenant_pair: tuple[Any, Any]) -> None:
    assert drift("tenantapp") == []
    assert drift("testapp") == []


def test_a_tenant_app_made_shared_is_missing_in_the_master(tenant_pair: tuple[Any, Any]) -> None:
    with rescoped("tenantapp", "SHARED_APPS"):
        found = drift("tenantapp")
    assert len(found) == 1
    assert "no tables in the master database" in found[0]
    assert "tenantapp_note" in found[0]


def test_a_master_app_made_shared_is_missing_in_the_tenants(tenant_pair: tuple[Any, Any]) -> None:
    with rescoped("testapp", "SHARED_APPS"):
        found = drift("testapp")
    assert len(found) == 1
    assert "pair_a" in found[0]
    assert "pair_b" in found[0]


def test_check_database_reports_it(
    tenant_pair: tuple[Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with rescoped("tenantapp", "SHARED_APPS"):
        call_command("check", "--database", "default", "--tag", "omnitenant")
    reported = capsys.readouterr().err
    assert "omnitenant.W013" in reported
    assert "'tenantapp'" in reported
