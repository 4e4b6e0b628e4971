"""The one view every variant serves: ten rows of the tenant's table, as JSON."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from reqbench.notes.models import Note


def notes(request: HttpRequest) -> JsonResponse:
    rows = Note.objects.order_by("id").values_list("id", "title", "priority")[:10]
    return JsonResponse(
        {"notes": [{"id": pk, "title": title, "priority": prio} for pk, title, prio in rows]}
    )
