"""Admin of the test project's tenant-scoped models."""

from typing import TYPE_CHECKING, Any

from django.contrib import admin

from django_omnitenant.admin import TenantScopedAdminMixin
from tests.tenantapp.models import Note

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = admin.ModelAdmin


@admin.register(Note)
class NoteAdmin(TenantScopedAdminMixin, _ModelAdmin):
    list_display = ("text", "priority")
