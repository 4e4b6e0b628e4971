"""A tenant app's middleware that reads its own rows on every request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from django_omnitenant.hostkinds import tenant_only
from tests.tenantapp.models import Note


class NoteCountMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        count = Note.objects.count()  # tenant-scoped: needs a tenant
        response = self.get_response(request)
        response["X-Notes"] = str(count)
        return response


NoteCountForTenants = tenant_only(NoteCountMiddleware)
