"""Admin integration: who may see what, on which host.

* :class:`TenantRestrictAdminMixin` — for models the master manages (tenants, domains,
  plans, ...): visible and editable only on the master host (no tenant active); the
  user's own permissions still apply on top.
* :class:`TenantScopedAdminMixin` — for tenant-scoped models: shown only on a tenant's
  host, where every query already runs in that tenant (the middleware entered it), so
  the admin lists that tenant's rows and no one else's.
* :class:`TenantAdmin` — a ready admin for your tenant model, with its domains inline.
  Adding a tenant here provisions its storage (schema or database) in the same
  transaction; ``database_config`` is never shown, because it may hold a password.

::

    from django.contrib import admin
    from django_omnitenant.admin import TenantAdmin, TenantScopedAdminMixin

    admin.site.register(Tenant, TenantAdmin)

    @admin.register(Invoice)
    class InvoiceAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
        list_display = ("number", "total")
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from django_omnitenant.utils import get_domain_model, get_tenant_backend
from omnitenant_context import TenantContext

# django-stubs makes the admin classes generic; at run time they are not subscriptable.
if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]
    _TabularInline = admin.TabularInline[Any, Any]
else:
    _ModelAdmin = admin.ModelAdmin
    _TabularInline = admin.TabularInline

__all__ = [
    "TenantAdmin",
    "TenantRestrictAdminMixin",
    "TenantScopedAdminMixin",
    "domain_inline",
]


def _tenant_of(request: HttpRequest) -> Any:
    return getattr(request, "tenant", None) or TenantContext.get_tenant()


class TenantRestrictAdminMixin:
    """Show the model only on the master host; the user's permissions still apply."""

    def _on_master_host(self, request: HttpRequest) -> bool:
        return _tenant_of(request) is None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._on_master_host(request) and super().has_module_permission(request)  # type: ignore[misc]  # ModelAdmin supplies it

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._on_master_host(request) and super().has_view_permission(request, obj)  # type: ignore[misc]  # ModelAdmin supplies it

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._on_master_host(request) and super().has_add_permission(request, *args)  # type: ignore[misc]  # ModelAdmin/InlineModelAdmin supply it

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._on_master_host(request) and super().has_change_permission(request, obj)  # type: ignore[misc]  # ModelAdmin supplies it

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._on_master_host(request) and super().has_delete_permission(request, obj)  # type: ignore[misc]  # ModelAdmin supplies it


class TenantScopedAdminMixin:
    """Show a tenant-scoped model only on a tenant's host (never on the master's)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _tenant_of(request) is not None and super().has_module_permission(request)  # type: ignore[misc]  # ModelAdmin supplies it

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _tenant_of(request) is not None and super().has_view_permission(request, obj)  # type: ignore[misc]  # ModelAdmin supplies it

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return _tenant_of(request) is not None and super().has_add_permission(request, *args)  # type: ignore[misc]  # ModelAdmin/InlineModelAdmin supply it

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _tenant_of(request) is not None and super().has_change_permission(request, obj)  # type: ignore[misc]  # ModelAdmin supplies it

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _tenant_of(request) is not None and super().has_delete_permission(request, obj)  # type: ignore[misc]  # ModelAdmin supplies it


@cache
def domain_inline() -> type[_TabularInline]:
    """The inline of the configured domain model (built once the models are ready)."""

    class DomainInline(TenantRestrictAdminMixin, _TabularInline):
        model = get_domain_model()
        extra = 1
        fields = ("domain", "is_primary")

    return DomainInline


class TenantAdmin(TenantRestrictAdminMixin, _ModelAdmin):
    """Admin of the tenant model, with domains inline; master host only."""

    list_display = ("tenant_id", "name", "isolation_type", "status", "primary_domain")
    list_filter = ("isolation_type", "status")
    search_fields = ("tenant_id", "name", "domains__domain")
    # database_config may hold a password: it is neither shown nor editable here.
    exclude = ("database_config",)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[Any]]:
        return [domain_inline()]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The storage is named after these: they cannot change once it exists.
        if obj is not None and obj.pk is not None:
            return ("tenant_id", "isolation_type", "schema_name", "created_at", "updated_at")
        return ("created_at", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("domains")

    @admin.display(description="primary domain")
    def primary_domain(self, obj: Any) -> str:
        return next((d.domain for d in obj.domains.all() if d.is_primary), "")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            # The admin's change view runs in a transaction: if provisioning fails, the
            # row goes too, and the backend has removed the storage it made.
            get_tenant_backend(obj).create(run_migrations=True)
