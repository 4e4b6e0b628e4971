"""The notes in the admin of each tenant's host (never on the public host)."""

from django.contrib import admin

from django_omnitenant.admin import TenantScopedAdminMixin
from notes.models import Note


@admin.register(Note)
class NoteAdmin(TenantScopedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]  # generic in the stubs only
    list_display = ("text",)
    search_fields = ("text",)
