"""Acceptance: three Wagtail sites as schema tenants of one project, in one process.

What an adopting team does, end to end: ``createtenant`` (by migrating Wagtail's whole
history, and by cloning the template), logging into each tenant's Wagtail admin, creating
and publishing a page, serving it on the tenant's host, uploading an image, searching,
with WSGI and ASGI requests interleaved across tenants; then ``migratealltenants`` after
the project adds a migration. The master's content-type ids are made to differ from the
tenants' (as after an app was added to a running project), so any content type answered
from the wrong scope shows up as a wrong page type or a 500.
"""

from __future__ import annotations

import io
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client, override_settings
from PIL import Image as PillowImage
from wagtail.images import get_image_model
from wagtail.models import Site

from django_omnitenant.utils import get_tenant_backend, get_tenant_model
from omnitenant_context import TenantContext
from tests.integration.asgi import asgi_get
from tests.wagtail_site.conftest import TIMINGS
from tests.wagtail_site.home.models import HomePage

pytestmark = pytest.mark.postgres

PASSWORD = "wagtail-acceptance"  # noqa: S105 - a test user's password


@dataclass
class TenantSite:
    tenant: Any
    host: str
    client: Client


class FallbackWatch(logging.Handler):
    """Collects omnitenant's warnings: a clone that fell back to migrating logs one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def create_tenant(tenant_id: str, host: str) -> float:
    started = time.perf_counter()
    call_command(
        "createtenant",
        "--tenant-id",
        tenant_id,
        "--name",
        f"Wagtail {tenant_id}",
        "--domain",
        host,
        "--noinput",
        stdout=io.StringIO(),
    )
    return time.perf_counter() - started


def swap_master_content_type_ids() -> None:
    """In the master, give ``home.homepage`` and ``wagtailcore.page`` each other's ids."""
    with TenantContext.use_master_db(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT id FROM django_content_type"
            "         WHERE app_label = 'home' AND model = 'homepage'),"
            "       (SELECT id FROM django_content_type"
            "         WHERE app_label = 'wagtailcore' AND model = 'page')"
        )
        row = cursor.fetchone()
        assert row is not None
        home, page = row
        # Three steps: the primary key is checked row by row.
        tables = (("django_content_type", "id"), ("auth_permission", "content_type_id"))
        for table, column in tables:
            for old, new in ((home, -home), (page, home), (-home, page)):
                cursor.execute(
                    f"UPDATE {table} SET {column} = %s WHERE {column} = %s",  # noqa: S608 - fixed names
                    [new, old],
                )
    ContentType.objects.clear_cache()


@pytest.fixture(scope="module")
def sites(django_db_setup: None, django_db_blocker: Any) -> Iterator[list[TenantSite]]:
    watch = FallbackWatch()
    logger = logging.getLogger("omnitenant")
    logger.addHandler(watch)
    with django_db_blocker.unblock():
        swap_master_content_type_ids()
        made: list[TenantSite] = []
        try:
            with override_settings(
                OMNITENANT_CONFIG={**settings.OMNITENANT_CONFIG, "CLONE_SCHEMA_TEMPLATE": False}
            ):
                seconds = create_tenant("wag_a", "a.wag.test")
            TIMINGS.append(("createtenant, migrating (Wagtail project)", seconds))
            tenant = get_tenant_model().objects.get(tenant_id="wag_a")
            made.append(TenantSite(tenant, "a.wag.test", Client()))
            seconds = create_tenant("wag_b", "b.wag.test")
            TIMINGS.append(("createtenant, first clone (migrates the template too)", seconds))
            seconds = create_tenant("wag_c", "c.wag.test")
            TIMINGS.append(("createtenant, cloning the migrated template", seconds))
            for tenant_id, host in (("wag_b", "b.wag.test"), ("wag_c", "c.wag.test")):
                tenant = get_tenant_model().objects.get(tenant_id=tenant_id)
                made.append(TenantSite(tenant, host, Client()))
            assert watch.messages == [], "a clone fell back to migrating: " + "; ".join(
                watch.messages
            )
            yield made
        finally:
            logger.removeHandler(watch)
            for site in made:
                get_tenant_backend(site.tenant).delete(drop_data=True)
                site.tenant.delete()
            shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


def wsgi(path: str, host: str) -> tuple[int, str]:
    response = Client().get(path, HTTP_HOST=host)
    return response.status_code, response.content.decode()


def asgi(path: str, host: str, query: str = "") -> tuple[int, str]:
    response = async_to_sync(asgi_get)(path, host, query)
    return response.status, response.body.decode()


def test_three_wagtail_tenants_work_side_by_side(sites: list[TenantSite]) -> None:
    # Each tenant's Wagtail site answers on the tenant's host (the tenant_created receiver).
    for site in sites:
        with TenantContext.use_tenant(site.tenant):
            assert Site.objects.get(is_default_site=True).hostname == site.host
    # A lookup in the master scope first, where the content-type ids are swapped.
    with TenantContext.use_master_db():
        master_home = ContentType.objects.get_for_model(HomePage)
    log_into_each_admin(sites)
    publish_a_page_in_each(sites, master_home)
    serve_interleaved(sites, master_home)
    upload_an_image_in_each(sites)
    search_each(sites)


def log_into_each_admin(sites: list[TenantSite]) -> None:
    """A user of each tenant only, logged in through the tenant's admin."""
    for site in sites:
        with TenantContext.use_tenant(site.tenant):
            get_user_model().objects.create_superuser("editor", "e@example.test", PASSWORD)
    for site in sites:
        response = site.client.post(
            "/admin/login/",
            {"username": "editor", "password": PASSWORD},
            HTTP_HOST=site.host,
        )
        assert response.status_code == 302, response.content[:500]
        assert site.client.get("/admin/", HTTP_HOST=site.host).status_code == 200
    # A login is the tenant's own: its session cookie does not open another tenant's
    # admin. (A probe client: the test client, unlike a browser, would send the cookie to
    # every host, and the other tenant's answer deletes it.)
    probe = Client()
    cookie = settings.SESSION_COOKIE_NAME
    probe.cookies[cookie] = sites[0].client.cookies[cookie].value
    response = probe.get("/admin/", HTTP_HOST=sites[1].host)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def publish_a_page_in_each(sites: list[TenantSite], master_home: ContentType) -> None:
    for site in sites:
        with TenantContext.use_tenant(site.tenant):
            root_id = Site.objects.get(is_default_site=True).root_page_id
        response = site.client.post(
            f"/admin/pages/add/home/homepage/{root_id}/",
            {
                "title": f"News of {site.tenant.tenant_id}",
                "slug": "news",
                "intro": f"Only {site.tenant.tenant_id} says this",
                "action-publish": "action-publish",
            },
            HTTP_HOST=site.host,
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        assert "/admin/pages/" in response["Location"], response["Location"]
    for site in sites:
        with TenantContext.use_tenant(site.tenant):
            page = HomePage.objects.get(slug="news")
            assert page.live
            # Stored with the tenant's own content type, not the master's.
            assert page.content_type_id == ContentType.objects.get_for_model(HomePage).id
            assert page.content_type_id != master_home.id


def serve_interleaved(sites: list[TenantSite], master_home: ContentType) -> None:
    """Each page on its tenant's host, WSGI and ASGI interleaved across tenants."""
    for round_ in range(2):
        for index, site in enumerate(sites):
            tenant_id = site.tenant.tenant_id
            if (index + round_) % 2:
                status, body = asgi("/news/", site.host)
            else:
                status, body = wsgi("/news/", site.host)
            assert status == 200, body[:2000]
            assert f"Only {tenant_id} says this" in body  # the HomePage template: specific
            assert f"Wagtail {tenant_id}" in body  # the tenant's own site name
            others = [other.tenant.tenant_id for other in sites if other is not site]
            assert not any(other in body for other in others)
            # A master-scope lookup between tenants, as a worker serving the public host.
            with TenantContext.use_master_db():
                assert ContentType.objects.get_for_id(master_home.id).model == "homepage"


def upload_an_image_in_each(sites: list[TenantSite]) -> None:
    for site in sites:
        picture = io.BytesIO()
        PillowImage.new("RGB", (8, 8), (200, 30, 30)).save(picture, "PNG")
        response = site.client.post(
            "/admin/images/add/",
            {
                "title": f"Logo of {site.tenant.tenant_id}",
                "file": SimpleUploadedFile("logo.png", picture.getvalue(), "image/png"),
            },
            HTTP_HOST=site.host,
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    for site in sites:
        with TenantContext.use_tenant(site.tenant):
            titles = list(get_image_model().objects.values_list("title", flat=True))
        assert titles == [f"Logo of {site.tenant.tenant_id}"]


def search_each(sites: list[TenantSite]) -> None:
    """The admin's search and the site's, each in the tenant's own index."""
    for index, site in enumerate(sites):
        tenant_id = site.tenant.tenant_id
        response = site.client.get("/admin/pages/search/", {"q": "News"}, HTTP_HOST=site.host)
        assert response.status_code == 200
        assert f"News of {tenant_id}" in response.content.decode()
        if index % 2:
            status, body = asgi("/search/", site.host, "q=says")
        else:
            status, body = wsgi("/search/?q=says", site.host)
        assert status == 200, body[:2000]
        assert f"News of {tenant_id}" in body
        assert all(other.tenant.tenant_id not in body for other in sites if other is not site)


def test_migratealltenants_applies_a_new_project_migration(sites: list[TenantSite]) -> None:
    out = io.StringIO()
    v2 = "tests.wagtail_site.home.v2.migrations"
    with override_settings(MIGRATION_MODULES={"home": v2}):
        started = time.perf_counter()
        call_command(
            "migratealltenants",
            *(f"--tenant={site.tenant.tenant_id}" for site in sites),
            "--progress",
            "lines",
            stdout=out,
        )
        seconds = time.perf_counter() - started
        TIMINGS.append(("migratealltenants, one new migration, 3 tenants", seconds))
        for site in sites:
            with TenantContext.use_tenant(site.tenant), connection.cursor() as cursor:
                cursor.execute("SELECT subtitle FROM home_homepage")
                assert {row[0] for row in cursor.fetchall()} <= {"since v2"}
                cursor.execute("SELECT count(*) FROM home_homepage WHERE subtitle = 'since v2'")
                row = cursor.fetchone()
                assert row is not None
                assert row[0] >= 1
    text = out.getvalue()
    assert "rebuilt" not in text
    for site in sites:
        assert f"{site.tenant.tenant_id}: migrated" in text
    # Pages still serve after the release.
    for site in sites:
        response = Client().get("/news/", HTTP_HOST=site.host)
        assert response.status_code == 200
