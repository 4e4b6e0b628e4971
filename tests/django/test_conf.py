"""OMNITENANT_CONFIG: documented defaults, validation, and override_settings."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from django_omnitenant.conf import DEFAULTS, OmnitenantConfigurationError, omnitenant_settings


def test_defaults_fill_every_key_not_set() -> None:
    conf = omnitenant_settings()
    assert conf.public_schema == DEFAULTS["PUBLIC_TENANT_NAME"] == "public"
    assert conf.master_tenant_name == "master"
    assert conf.master_database == "default"
    assert conf.tenant_resolver == "django_omnitenant.resolvers.CustomDomainTenantResolver"
    assert conf.default_app_scope == "shared"
    assert conf.max_open_tenant_connections == 32
    assert conf.tenant_model == settings.OMNITENANT_CONFIG["TENANT_MODEL"]


def test_override_settings_is_seen_and_undone() -> None:
    changed = {**settings.OMNITENANT_CONFIG, "PUBLIC_HOST": "other.test"}
    with override_settings(OMNITENANT_CONFIG=changed):
        assert omnitenant_settings().public_host == "other.test"
    assert omnitenant_settings().public_host == "example.test"


def test_app_scopes() -> None:
    conf = omnitenant_settings()
    assert conf.app_scope("testapp") == "master"
    assert conf.app_scope("tenantapp") == "tenant"
    assert conf.app_scope("auth") == "shared"
    assert conf.app_scope("unlisted") == "shared"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"TENANT_MODLE": "x.Y"}, "unknown keys \\['TENANT_MODLE'\\]"),
        ({"DEFAULT_APP_SCOPE": "global"}, "DEFAULT_APP_SCOPE"),
        ({"MAX_OPEN_TENANT_CONNECTIONS": 0}, "positive integer"),
    ],
)
def test_invalid_config_names_the_key(change: dict[str, object], message: str) -> None:
    with override_settings(OMNITENANT_CONFIG={**settings.OMNITENANT_CONFIG, **change}):
        with pytest.raises(OmnitenantConfigurationError, match=message):
            omnitenant_settings()
