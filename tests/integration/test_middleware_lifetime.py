"""A TenantMiddleware lives as long as its handler: nothing global keeps it, or piles up.

Every Django test client builds its own handler and middleware chain. The middleware once
registered a reload listener in a global list on construction, so 50 test clients left
51 middleware instances alive for the whole process. Now it compares the settings object
it was built from with the current one; a settings change is still seen.
"""

from __future__ import annotations

import gc

import pytest
from django.conf import settings
from django.test import Client, override_settings

from django_omnitenant.middleware import TenantMiddleware

pytestmark = pytest.mark.django_db


def _live_middlewares() -> int:
    gc.collect()
    return sum(isinstance(item, TenantMiddleware) for item in gc.get_objects())


def test_fifty_test_clients_leave_no_middleware_behind() -> None:
    before = _live_middlewares()
    for _ in range(50):
        assert Client().get("/whoami/", HTTP_HOST="example.test").status_code == 200
    assert _live_middlewares() <= before + 1


def test_a_middleware_sees_a_settings_change_made_after_it_was_built() -> None:
    client = Client()
    assert client.get("/whoami/", HTTP_HOST="example.test").status_code == 200
    changed = {**settings.OMNITENANT_CONFIG, "PUBLIC_HOST": "other.test"}
    with override_settings(OMNITENANT_CONFIG=changed, ALLOWED_HOSTS=["*"]):
        # The same handler (and middleware): the old public host is now unknown.
        assert client.get("/whoami/", HTTP_HOST="other.test").status_code == 200
        assert client.get("/whoami/", HTTP_HOST="example.test").status_code == 404
    assert client.get("/whoami/", HTTP_HOST="example.test").status_code == 200
