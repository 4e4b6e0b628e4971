"""Views of the test project: each shows what the active tenant sees."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import include, path

from omnitenant_context import TenantContext
from tests.tenantapp.models import Note


def whoami(request: HttpRequest) -> JsonResponse:
    tenant = TenantContext.get_tenant()
    attribute = getattr(request, "tenant", None)
    return JsonResponse(
        {
            "tenant": None if tenant is None else tenant.tenant_id,
            "request_tenant": None if attribute is None else attribute.tenant_id,
        }
    )


def notes(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"notes": sorted(Note.objects.values_list("text", flat=True))})


def add_note(request: HttpRequest) -> JsonResponse:
    """Writes on any method (also GET), to show the database refusing it in maintenance."""
    Note.objects.create(text=request.GET.get("text", "added"))
    return JsonResponse({"added": True})


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view failed")


def write_then_fail(request: HttpRequest) -> HttpResponse:
    Note.objects.create(text=request.GET.get("text", "written by a failing view"))
    raise RuntimeError("the view failed after writing")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[str]:
        for _ in range(3):
            tenant = TenantContext.get_tenant()
            yield f"{None if tenant is None else tenant.tenant_id};"

    return StreamingHttpResponse(chunks())


def closer(request: HttpRequest) -> HttpResponse:
    """A response whose resource closer notes the tenant it runs in (after the body)."""
    response = HttpResponse("ok")

    def note_tenant() -> None:
        tenant = TenantContext.get_tenant()
        request.closer_saw = None if tenant is None else tenant.tenant_id  # type: ignore[attr-defined]  # read by the test

    # Django's list of closers that close() runs (not in django-stubs).
    response._resource_closers.append(note_tenant)  # type: ignore[attr-defined]
    return response


urlpatterns = [
    path("admin/", admin.site.urls),
    path("console/", include("django_omnitenant.console.urls")),
    path("whoami/", whoami),
    path("notes/", notes),
    path("notes/add/", add_note),
    path("boom/", boom),
    path("write-then-fail/", write_then_fail),
    path("stream/", stream),
    path("closer/", closer),
]
