"""A URLconf built from the tenant's rows, as CMS "apphooks" do: one path per note.

Executed by omnitenant once per tenant, inside the tenant. Imported outside any tenant it
fails (NoTenantActive), which is why it must never be ROOT_URLCONF.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import Context, Template
from django.urls import URLPattern, path, reverse
from django.utils.text import slugify

from omnitenant_context import TenantContext
from tests.tenantapp.models import Note


def page(request: HttpRequest, note_id: int) -> HttpResponse:
    note = Note.objects.get(pk=note_id)
    tenant = TenantContext.require_tenant()
    own_url = Template("{% url name %}").render(Context({"name": f"page-{note.pk}"}))
    return HttpResponse(f"{tenant.tenant_id}|{note.text}|{own_url}|{reverse('index')}")


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("index")


def _pages() -> list[URLPattern]:
    return [
        path(f"{slugify(note.text)}/", page, {"note_id": note.pk}, name=f"page-{note.pk}")
        for note in Note.objects.order_by("pk")
    ]


urlpatterns = [path("", index, name="index"), *_pages()]
