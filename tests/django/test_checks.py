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
        ({"SHARED_APPS": ["testapp"], "MASTER_APPS": []}, "omnitenant.E004"),
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


@pytest.mark.parametrize(
    ("caches", "middleware_alias", "reported"),
    [
        # Django's own backend under the alias cache_page and {% cache %} use: warned.
        ({"default": "django.core.cache.backends.locmem.LocMemCache"}, "default", True),
        ({"default": "omnitenant_backends.cache.LocMemCache"}, "default", False),
        ({"default": "django.core.cache.backends.dummy.DummyCache"}, "default", False),
        # cache_page elsewhere (tenant-aware), {% cache %} on a plain default: warned.
        (
            {
                "default": "django.core.cache.backends.locmem.LocMemCache",
                "pages": "omnitenant_backends.cache.LocMemCache",
            },
            "pages",
            True,
        ),
        # {% cache %} on its own tenant-aware alias, pages too: clean.
        (
            {
                "default": "django.core.cache.backends.locmem.LocMemCache",
                "pages": "omnitenant_backends.cache.LocMemCache",
                "template_fragments": "omnitenant_backends.cache.LocMemCache",
            },
            "pages",
            False,
        ),
    ],
)
def test_a_page_cache_that_is_not_tenant_aware_is_a_warning(
    caches: dict[str, str], middleware_alias: str, reported: bool
) -> None:
    with override_settings(
        CACHES={alias: {"BACKEND": backend} for alias, backend in caches.items()},
        CACHE_MIDDLEWARE_ALIAS=middleware_alias,
    ):
        found = [m for m in check_configuration() if m.id == "omnitenant.W003"]
    assert bool(found) is reported
    if found:
        assert "omnitenant_backends.cache.RedisCache" in (found[0].hint or "")


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES:UserWarning")
def test_plain_postgres_engine_is_a_warning() -> None:
    plain = {**settings.DATABASES["default"], "ENGINE": "django.db.backends.postgresql"}
    databases = {"default": plain}
    with override_settings(DATABASES=databases):
        assert {m.id for m in check_configuration()} == {"omnitenant.W001"}


def test_the_tenant_models_app_is_master_without_being_listed() -> None:
    messages = _messages(MASTER_APPS=[])
    assert "omnitenant.E004" not in {message.id for message in messages}
    # Listed nowhere, yet no "no scope" warning for it: its scope is known.
    assert not any("testapp" in str(message.msg) for message in messages)
