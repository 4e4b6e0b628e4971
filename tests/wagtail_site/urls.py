"""URLs of the Wagtail project: the admin, a search view, and Wagtail's page serving."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.models import Page


def search(request: HttpRequest) -> JsonResponse:
    """The titles of the live pages that match ``?q=``, from the active tenant's index."""
    query = request.GET.get("q", "")
    results = Page.objects.live().specific().search(query)
    return JsonResponse({"titles": sorted(page.title for page in results)})


urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("search/", search),
    path("", include(wagtail_urls)),
]
