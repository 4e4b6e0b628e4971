"""Admin integration: who may see what, on which host.

* :class:`TenantRestrictAdminMixin` — for models the master manages (tenants, domains,
  plans, ...): visible and editable only on the master host (no tenant active); the
  user's own permissions still apply on top.
* :class:`TenantScopedAdminMixin` — for tenant-scoped models: shown only on a tenant's
  host, where every query already runs in that tenant (the middleware entered it), so
  the admin lists that tenant's rows and no one else's.
* :class:`TenantAdmin` — a ready admin for your tenant model, with its domains inline.
  Adding a tenant here provisions it through :mod:`django_omnitenant.provisioning` (row,
  domains and storage, all or nothing); deleting follows ``deletetenant``: the first
  delete marks the tenant for deletion, deleting a marked (or failed) tenant purges it.
  The lifecycle state is read-only in the form; actions change it. ``database_config``
  is never shown, because it may hold a password.

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
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from django_omnitenant import provisioning
from django_omnitenant.constants import TenantStatus
from django_omnitenant.utils import get_domain_model
from omnitenant_backends.placement import UnknownServer, check_server
from omnitenant_context import OmnitenantError, TenantContext

# django-stubs makes the admin classes generic; at run time they are not subscriptable.
if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]
    _TabularInline = admin.TabularInline[Any, Any]
else:
    _ModelAdmin = admin.ModelAdmin
    _TabularInline = admin.TabularInline

__all__ = [
    "TenantAdmin",
    "TenantForm",
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


class TenantForm(forms.ModelForm):  # type: ignore[type-arg]  # the model is the project's
    """The tenant admin's form: a server named for a new tenant must be a server."""

    def clean_server(self) -> str:
        server = str(self.cleaned_data.get("server") or "")
        if server:
            try:
                check_server(server)
            except UnknownServer as exc:
                raise forms.ValidationError(str(exc), code="unknown_server") from None
        return server


class TenantAdmin(TenantRestrictAdminMixin, _ModelAdmin):
    """Admin of the tenant model, with domains inline; master host only.

    A new schema tenant goes to the server given (empty: the placement policy chooses);
    an existing tenant's server is shown, never edited (moving a tenant copies its data).
    """

    form = TenantForm
    list_display = ("tenant_id", "name", "isolation_type", "status", "server", "primary_domain")
    list_filter = ("isolation_type", "status", "server")
    search_fields = ("tenant_id", "name", "domains__domain")
    # database_config may hold a password: it is neither shown nor editable here.
    exclude = ("database_config",)
    actions = ("suspend_tenants", "activate_tenants", "start_maintenance", "end_maintenance")

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[Any]]:
        return [domain_inline()]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The lifecycle state changes only through the provisioning module (actions).
        lifecycle = ("status", "status_detail", "created_at", "updated_at")
        # The storage is named after these: they cannot change once it exists.
        if obj is not None and obj.pk is not None:
            return ("tenant_id", "isolation_type", "schema_name", "server", *lifecycle)
        return lifecycle

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("domains")

    @admin.display(description="primary domain")
    def primary_domain(self, obj: Any) -> str:
        return next((d.domain for d in obj.domains.all() if d.is_primary), "")

    # -- adding: one creating transaction around the row, the inline domains, storage --

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if object_id is None and request.method == "POST":
            # The provisioning module's transaction instead of the admin's own: storage
            # outside the master (a tenant database) is removed if it does not commit.
            with provisioning.creating():
                # ModelAdmin.changeform_view is exactly this call inside atomic().
                response = self._changeform_view(  # type: ignore[attr-defined]  # Django's undocumented body of changeform_view
                    request, object_id, form_url, extra_context
                )
            return cast("HttpResponse", response)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # The row now; the storage once the inline domains are saved (save_related), so
        # that tenant_created receivers find every domain. All in one creating transaction.
        provisioning.save_new(obj)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not change:
            provisioning.make_storage(form.instance)

    # -- deleting: mark first, purge a marked tenant (as deletetenant) ------------------

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        if obj.status in provisioning.PURGEABLE:
            provisioning.purge_tenant(obj)
        else:
            provisioning.mark_for_deletion(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for tenant in queryset:
            self.delete_model(request, tenant)

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> HttpResponse:
        tenant = self.model._default_manager.filter(pk=obj_id).first()
        if tenant is None:
            return super().response_delete(request, obj_display, obj_id)
        self.message_user(
            request,
            f"Tenant {tenant.tenant_id!r} is marked for deletion: no longer served, data "
            "kept. Delete it again to purge its data, or restore it.",
            messages.WARNING,
        )
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(
                f"admin:{opts.app_label}_{opts.model_name}_changelist",
                current_app=self.admin_site.name,
            )
        )

    # -- lifecycle actions --------------------------------------------------------------

    def _move(self, request: HttpRequest, queryset: QuerySet[Any], change: Any) -> None:
        for tenant in queryset:
            try:
                change(tenant)
            except OmnitenantError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"Tenant {tenant.tenant_id!r} is {tenant.status}.")

    @admin.action(description="Suspend (403/404, data kept)")
    def suspend_tenants(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._move(request, queryset, provisioning.suspend)

    @admin.action(description="Activate (serve again; also restores a marked tenant)")
    def activate_tenants(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._move(request, queryset, provisioning.activate)

    @admin.action(description="Start maintenance (read-only)")
    def start_maintenance(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._move(request, queryset, provisioning.start_maintenance)

    @admin.action(description="End maintenance")
    def end_maintenance(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._move(
            request,
            queryset.filter(status=TenantStatus.MAINTENANCE),
            provisioning.end_maintenance,
        )
