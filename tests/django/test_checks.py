"""System checks catch misconfiguration at start-up and say how to fix it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.checks import CheckMessage
from django.test import override_settings

from django_omnitenant.checks import check_configuration


def ids(**overrides: object) -> set[str]:
    return {message.id or "" for message in _messages(**overrides)}


def _messages(**overrides: object) -> list[CheckMessage]:
    config = {**settings.OMNITENANT_CONFIG, **overrides}
    with override_settings(OMNITENANT_CONFIG=config):
        return list(check_configuration())


def test_the_test_project_is_clean() -> None:
    assert check_configuration() == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"TENANT_MODEL": None}, "omnitenant.E002"),
        ({"DOMAIN_MODEL": "testapp.Nope"}, "omnitenant.E003"),
        ({"MASTER_APPS": ["testapp", "tenantapp"]}, "omnitenant.E007"),
        ({"TENANT_APPS": ["tenantapp", "testapp"], "MASTER_APPS": []}, "omnitenant.E004"),
        ({"SHARED_APPS": ["contenttypes", "auth", "nosuchapp"]}, "omnitenant.E008"),
        ({"MASTER_DATABASE": "elsewhere"}, "omnitenant.E006"),
        ({"NOT_A_KEY": 1}, "omnitenant.E001"),
        ({"SHARED_APPS": []}, "omnitenant.W002"),
    ],
)
def test_misconfigurations_are_reported(overrides: dict[str, object], expected: str) -> None:
    assert expected in ids(**overrides)


def test_missing_router_is_reported_with_the_fix() -> None:
    with override_settings(DATABASE_ROUTERS=[]):
        (message,) = check_configuration()
    assert message.id == "omnitenant.E005"
    assert "django_omnitenant.routers.TenantRouter" in (message.hint or "")


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES:UserWarning")
def test_plain_postgres_engine_is_a_warning() -> None:
    plain = {**settings.DATABASES["default"], "ENGINE": "django.db.backends.postgresql"}
    databases = {"default": plain}
    with override_settings(DATABASES=databases):
        assert {m.id for m in check_configuration()} == {"omnitenant.W001"}
