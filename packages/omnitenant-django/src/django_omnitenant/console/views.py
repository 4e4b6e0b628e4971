"""The console's views: the fleet list, one page per tenant, and the confirmed actions.

Every view refuses tenant hosts (404: the console does not exist there), sends anonymous
users to the login page and answers 403 to users who are not active staff. The views run
on the master (``TenantContext.use_master_db()``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from django_omnitenant.console._actions import ACTIONS, ActionRefused, available_actions, run_action
from django_omnitenant.console._fleet import FleetFilters, fleet_page, server_choices, tenant_row
from django_omnitenant.constants import IsolationType, TenantStatus
from django_omnitenant.models import TenantStateChange
from django_omnitenant.utils import get_tenant_model
from omnitenant_context import TenantContext

__all__ = ["action", "fleet", "tenant_detail"]

#: How many rows of a tenant's history its page shows (newest first).
HISTORY_ROWS = 200

_View = Callable[..., HttpResponse]


def _login_url() -> str:
    try:
        return reverse("admin:login")
    except NoReverseMatch:
        return str(settings.LOGIN_URL)


def console_view(view: _View) -> _View:
    """Public host and active staff only; the body runs on the master."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "tenant", None) is not None or TenantContext.get_tenant() is not None:
            raise Http404("The fleet console is served on the public host only.")
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), _login_url())
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("The fleet console is for staff only.")
        with TenantContext.use_master_db():
            return view(request, *args, **kwargs)

    return guarded


def _may_act(request: HttpRequest) -> bool:
    opts = get_tenant_model()._meta
    return bool(request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}"))


def _tenant(tenant_id: str) -> Any:
    tenant = get_tenant_model()._default_manager.filter(tenant_id=tenant_id).first()
    if tenant is None:
        raise Http404(f"No tenant {tenant_id!r}.")
    return tenant


@require_GET
@console_view
def fleet(request: HttpRequest) -> HttpResponse:
    """Every tenant, paginated, with search and filters."""
    filters = FleetFilters.from_query(request.GET)
    page, rows = fleet_page(filters, request.GET.get("page", 1))
    return render(
        request,
        "omnitenant/console/fleet.html",
        {
            "title": "Fleet",
            "page": page,
            "rows": rows,
            "filters": filters,
            "query": filters.query_string(),
            "states": TenantStatus.choices,
            "isolation_types": [(m.value, m.name.title()) for m in IsolationType],
            "servers": server_choices(),
        },
    )


@require_GET
@console_view
def tenant_detail(request: HttpRequest, tenant_id: str) -> HttpResponse:
    """One tenant: its row, its actions and its history of state changes."""
    tenant = _tenant(tenant_id)
    history = TenantStateChange.objects.filter(tenant_id=tenant.tenant_id)[:HISTORY_ROWS]
    return render(
        request,
        "omnitenant/console/tenant.html",
        {
            "title": f"Tenant {tenant.tenant_id}",
            "row": tenant_row(tenant),
            "history": list(history),
            "actions": available_actions(str(tenant.status)) if _may_act(request) else [],
        },
    )


@require_http_methods(["GET", "POST"])
@console_view
@csrf_protect
def action(request: HttpRequest, tenant_id: str, name: str) -> HttpResponse:
    """GET: the confirmation page; POST (with ``confirm``): the action itself."""
    chosen = ACTIONS.get(name)
    if chosen is None:
        raise Http404(f"No action {name!r}.")
    if not _may_act(request):
        raise PermissionDenied("Changing tenants needs the change permission of the tenant model.")
    tenant = _tenant(tenant_id)
    error = ""
    if request.method == "GET" and str(tenant.status) not in chosen.states:
        # Nothing to confirm; a POST would be refused by provisioning all the same.
        error = (
            f"Tenant {tenant.tenant_id!r} is {tenant.status}: "
            f"{chosen.label.lower()} is not possible."
        )
    elif request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            message = run_action(
                chosen,
                tenant,
                actor=request.user.get_username(),
                reason=request.POST.get("reason", ""),
            )
        except ActionRefused as exc:
            error = str(exc)
        else:
            # Shown on the tenant's page when django.contrib.messages is installed.
            messages.success(request, message, fail_silently=True)
            return HttpResponseRedirect(
                reverse("omnitenant_console:tenant", args=[tenant.tenant_id])
            )
    return render(
        request,
        "omnitenant/console/confirm.html",
        {
            "title": f"{chosen.label}: {tenant.tenant_id}",
            "tenant": tenant,
            "action": chosen,
            "error": error,
            "offered": str(tenant.status) in chosen.states,
        },
        status=409 if error else 200,
    )
