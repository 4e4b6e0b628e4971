"""A tenant app's middleware on the public host: a clear error, and a way that works."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from omnitenant_context import NoTenantActive

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("live_db")]


def with_middleware(path: str) -> Any:
    return override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, path])


def test_unwrapped_the_error_names_the_app_and_the_ways_out(
    tenant_pair: tuple[Any, Any],
) -> None:
    with (
        with_middleware("tests.middleware.NoteCountMiddleware"),
        pytest.raises(NoTenantActive, match=r"'tenantapp' is in TENANT_APPS.*tenant_only"),
    ):
        Client().get("/admin/login/", HTTP_HOST="example.test")


def test_wrapped_it_runs_in_tenants_and_the_public_admin_works(
    tenant_pair: tuple[Any, Any],
) -> None:
    with with_middleware("tests.middleware.NoteCountForTenants"):
        public = Client().get("/admin/login/", HTTP_HOST="example.test")
        tenant = Client().get("/whoami/", HTTP_HOST="pair-a.example.test")
    assert public.status_code == 200
    assert "X-Notes" not in public
    assert tenant.status_code == 200
    assert tenant["X-Notes"] == "1"
