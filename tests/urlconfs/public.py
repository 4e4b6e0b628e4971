"""The public host's URLconf: the sign-up site, with the admin of the master."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"public home at {reverse('home')}")


urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
]
