"""URLconfs by kind of host, and a URLconf built from each tenant's own rows.

``tests.urlconfs.pages`` adds one path per note of the tenant (as CMS apphooks add
paths from pages). Before, such a URLconf was built once per process from whichever
tenant came first, and imported outside any tenant it broke every management command.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sites.models import Site
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse

from django_omnitenant.conf import OmnitenantConfigurationError, app_settings
from django_omnitenant.urlconfs import invalidate_urlconfs, tenant_urlconf
from omnitenant_context import NoTenantActive, TenantContext
from tests.tenantapp.models import Note

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("live_db")]

HOSTS = {"pair_a": "pair-a.example.test", "pair_b": "pair-b.example.test"}


@pytest.fixture
def urlconfs(tenant_pair: tuple[Any, Any]) -> Iterator[tuple[Any, Any]]:
    config = {
        **settings.OMNITENANT_CONFIG,
        "PUBLIC_URLCONF": "tests.urlconfs.public",
        "TENANT_URLCONF": "tests.urlconfs.pages",
        "URLCONF_PER_TENANT": True,
    }
    # The admin's login page asks for the master's Site; a flushing test may have
    # removed the row migrate made.
    Site.objects.get_or_create(pk=settings.SITE_ID, defaults={"domain": "example.test"})
    with override_settings(OMNITENANT_CONFIG=config):
        yield tenant_pair


def get(path: str, tenant_id: str | None) -> tuple[int, str]:
    host = "example.test" if tenant_id is None else HOSTS[tenant_id]
    response = Client().get(path, HTTP_HOST=host)
    return response.status_code, response.content.decode()


def test_each_tenant_is_routed_by_its_own_rows(urlconfs: tuple[Any, Any]) -> None:
    a, _ = urlconfs
    with TenantContext.use_tenant(a):
        pk = Note.objects.get().pk
    status, body = get("/note-of-pair_a/", "pair_a")
    assert status == 200
    # {% url %} and reverse() in the view use the tenant's URLconf.
    assert body == "pair_a|note of pair_a|/note-of-pair_a/|/"
    assert get("/note-of-pair_b/", "pair_b")[0] == 200
    assert get("/note-of-pair_b/", "pair_a")[0] == 404  # b's page is not a's
    assert get("/note-of-pair_a/", "pair_b")[0] == 404
    assert pk  # the same pk in both tenants, different paths


def test_60_interleaved_requests_from_threads_are_routed_right(
    urlconfs: tuple[Any, Any],
) -> None:
    results: list[tuple[str, str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def worker(offset: int) -> None:
        from django.db import connections

        try:
            start.wait(timeout=30)
            for step in range(10):
                tenant_id = ("pair_a", "pair_b")[(offset + step) % 2]
                other = "pair_b" if tenant_id == "pair_a" else "pair_a"
                own = get(f"/note-of-{tenant_id}/", tenant_id)[0]
                foreign = get(f"/note-of-{other}/", tenant_id)[0]
                with lock:
                    results.append((tenant_id, "own", own))
                    results.append((tenant_id, "foreign", foreign))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 120
    wrong = [r for r in results if r[2] != (200 if r[1] == "own" else 404)]
    assert wrong == []


def test_the_public_host_has_its_own_urlconf_with_the_admin(urlconfs: tuple[Any, Any]) -> None:
    assert get("/", None) == (200, "public home at /")
    assert get("/admin/login/", None)[0] == 200
    assert get("/note-of-pair_a/", None)[0] == 404
    assert get("/admin/login/", "pair_a")[0] == 404  # the tenants' URLconf has no admin


def test_invalidation_rebuilds_the_tenants_urlconf(urlconfs: tuple[Any, Any]) -> None:
    a, _ = urlconfs
    assert get("/fresh-page/", "pair_a")[0] == 404  # built now, before the row exists
    with TenantContext.use_tenant(a):
        note = Note.objects.create(text="fresh page")
    try:
        assert get("/fresh-page/", "pair_a")[0] == 404  # still the cached URLconf
        invalidate_urlconfs(a)
        assert get("/fresh-page/", "pair_a")[0] == 200
        assert get("/fresh-page/", "pair_b")[0] == 404
    finally:
        with TenantContext.use_tenant(a):
            note.delete()
        invalidate_urlconfs(a)


def test_reverse_outside_a_request_with_the_tenants_urlconf(urlconfs: tuple[Any, Any]) -> None:
    a, _ = urlconfs
    with TenantContext.use_tenant(a):
        pk = Note.objects.get().pk
        # django-stubs says str; Django takes any URLconf object (a module here).
        built = tenant_urlconf(a)
        assert reverse(f"page-{pk}", urlconf=built) == "/note-of-pair_a/"  # type: ignore[arg-type]
    assert reverse("home", urlconf=tenant_urlconf(None)) == "/"  # type: ignore[arg-type]


def test_commands_and_checks_need_no_tenant(urlconfs: tuple[Any, Any]) -> None:
    # The URLconf cannot be imported outside a tenant ...
    spec = importlib.util.find_spec("tests.urlconfs.pages")
    assert spec is not None
    assert spec.loader is not None
    with pytest.raises(NoTenantActive):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    # ... and the commands that need no tenant never import it.
    call_command("check", verbosity=0)
    call_command("showtenants", verbosity=0)


def test_a_per_tenant_root_urlconf_is_refused_with_the_reason(
    tenant_pair: tuple[Any, Any],
) -> None:
    config = {**settings.OMNITENANT_CONFIG, "URLCONF_PER_TENANT": True}
    with pytest.raises(OmnitenantConfigurationError, match="TENANT_URLCONF"):
        with override_settings(OMNITENANT_CONFIG=config):
            app_settings()
