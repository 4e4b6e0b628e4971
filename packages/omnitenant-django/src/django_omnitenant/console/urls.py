"""URLs of the fleet console: ``path("console/", include("django_omnitenant.console.urls"))``."""

from __future__ import annotations

from django.urls import path

from django_omnitenant.console import views

app_name = "omnitenant_console"

urlpatterns = [
    path("", views.fleet, name="fleet"),
    path("tenants/<str:tenant_id>/", views.tenant_detail, name="tenant"),
    path("tenants/<str:tenant_id>/<str:name>/", views.action, name="action"),
]
