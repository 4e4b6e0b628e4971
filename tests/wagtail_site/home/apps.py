"""The home app: its receiver points each new tenant's Wagtail site at the tenant's host."""

from __future__ import annotations

from django.apps import AppConfig


class HomeConfig(AppConfig):
    name = "tests.wagtail_site.home"
    label = "home"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_omnitenant.signals import tenant_created
        from tests.wagtail_site.home.signals import point_site_at_tenant

        tenant_created.connect(point_site_at_tenant, dispatch_uid="home-site-hostname")
