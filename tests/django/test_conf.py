"""OMNITENANT_CONFIG: documented defaults, validation, and override_settings."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from django_omnitenant.conf import (
    OmnitenantConfigurationError,
    app_settings,
    backend_settings,
)
from omnitenant_backends.config import known_settings


def test_defaults_fill_every_key_not_set() -> None:
    conf = backend_settings()
    assert conf.public_schema == backend_settings.defaults()["PUBLIC_TENANT_NAME"] == "public"
    assert conf.master_database == "default"
    assert conf.default_app_scope == "shared"
    assert conf.max_open_tenant_connections == 32
    app_conf = app_settings()
    assert app_conf.master_tenant_name == "master"
    assert app_conf.tenant_resolver == "django_omnitenant.resolvers.CustomDomainTenantResolver"
    assert conf.tenant_model == settings.OMNITENANT_CONFIG["TENANT_MODEL"]


def test_each_key_is_declared_once_by_the_package_that_reads_it() -> None:
    owners = {key: spec.package for key, spec in known_settings().items()}
    assert owners["MASTER_DATABASE"] == "omnitenant_backends"
    assert owners["DEFAULT_APP_SCOPE"] == "omnitenant_backends"
    assert owners["TENANT_RESOLVER"] == "django_omnitenant"
    assert owners["TENANT_CACHE_TTL"] == "django_omnitenant"
    assert set(backend_settings.defaults()).isdisjoint(app_settings.defaults())
    assert set(owners) == set(backend_settings.defaults()) | set(app_settings.defaults())


def test_override_settings_is_seen_and_undone() -> None:
    before = app_settings()
    changed = {**settings.OMNITENANT_CONFIG, "PUBLIC_HOST": "other.test"}
    with override_settings(OMNITENANT_CONFIG=changed):
        assert app_settings().public_host == "other.test"
        # Replaced, not mutated: whoever built something from `before` can tell.
        assert app_settings() is not before
    assert app_settings().public_host == "example.test"


def test_app_scopes() -> None:
    conf = backend_settings()
    assert conf.app_scope("testapp") == "master"
    assert conf.app_scope("tenantapp") == "tenant"
    assert conf.app_scope("auth") == "shared"
    assert conf.app_scope("unlisted") == "shared"


def test_the_apps_of_the_tenant_and_domain_models_are_master_unlisted() -> None:
    config = {
        **settings.OMNITENANT_CONFIG,
        "MASTER_APPS": [],
        "TENANT_MODEL": "customers.Tenant",
        "DOMAIN_MODEL": "directory.Domain",
        "DEFAULT_APP_SCOPE": "tenant",
    }
    with override_settings(OMNITENANT_CONFIG=config):
        conf = backend_settings()
        assert conf.app_scope("customers") == "master"
        assert conf.app_scope("directory") == "master"
        assert conf.app_scope("unlisted") == "tenant"
    # An explicit scope still wins (and is check E004).
    with override_settings(OMNITENANT_CONFIG={**config, "SHARED_APPS": ["customers"]}):
        assert backend_settings().app_scope("customers") == "shared"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"TENANT_MODLE": "x.Y"}, "unknown keys \\['TENANT_MODLE'\\]"),
        ({"DEFAULT_APP_SCOPE": "global"}, "'DEFAULT_APP_SCOPE'\\] is 'global'; use one of"),
        ({"MAX_OPEN_TENANT_CONNECTIONS": 0}, "positive integer"),
        ({"MASTER_APPS": "customers"}, "'MASTER_APPS'\\] must be a list of app labels"),
        ({"TENANT_CACHE_TTL": -1}, "'TENANT_CACHE_TTL'\\] must be a positive number"),
        ({"TENANT_CACHE_VERSION_CHECK_INTERVAL": "1"}, "zero or a positive number"),
        ({"UNKNOWN_HOST": "404"}, "'UNKNOWN_HOST'\\] is '404'"),
        ({"CLONE_SCHEMA_TEMPLATE": "no"}, "True or False"),
    ],
)
def test_invalid_config_names_the_key(change: dict[str, object], message: str) -> None:
    with override_settings(OMNITENANT_CONFIG={**settings.OMNITENANT_CONFIG, **change}):
        with pytest.raises(OmnitenantConfigurationError, match=message):  # noqa: PT012
            # The key belongs to one of the two groups; the other loads fine (or
            # refuses an unknown key too).
            backend_settings()
            app_settings()
