"""The example's views.

The public host (``demo.urls_public``): the landing page with the sign-up form and the
list of workspaces, the sign-up's progress. Each tenant's host (``demo.urls``): its notes,
behind that tenant's own sign-in.
"""

from __future__ import annotations

from customers.models import Domain, Tenant
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from notes.models import Note

from demo import signup
from demo.context_processors import url_of_host
from demo.forms import NoteForm, SignupForm
from django_omnitenant.constants import TenantStatus
from django_omnitenant.provisioning import TenantExists

WELCOME_FILE = "welcome.txt"  # written into each tenant's media folder by setup_demo


# -- the public host ----------------------------------------------------------------------


def public_home(request: HttpRequest, form: SignupForm | None = None) -> HttpResponse:
    """localhost: what the product is, the sign-up form, the workspaces that exist."""
    domains = (
        Domain.objects.filter(is_primary=True, tenant__status=TenantStatus.ACTIVE)
        .select_related("tenant")
        .order_by("tenant__name")
    )
    workspaces = [{"tenant": d.tenant, "url": url_of_host(request, d.domain)} for d in domains]
    return render(
        request,
        "demo/public.html",
        {"form": form or SignupForm(), "workspaces": workspaces},
        status=200 if form is None or form.is_valid() else 400,
    )


@require_POST
def signup_start(request: HttpRequest) -> HttpResponse:
    """The sign-up form: save the tenant, start its provisioning, show the progress."""
    form = SignupForm(request.POST)
    if not form.is_valid():
        return public_home(request, form)
    data = form.cleaned_data
    owner = signup.Owner(data["username"], data["email"], make_password(data["password"]))
    try:
        signup.start(data["tenant_id"], data["name"], owner)
    except TenantExists:
        form.add_error("tenant_id", "This address is taken; choose another.")
        return public_home(request, form)
    except ValidationError as exc:
        # The model's own rules (the id, the domain): nothing was saved.
        for message in exc.messages:
            form.add_error(None, message)
        return public_home(request, form)
    return redirect("signup-progress", tenant_id=data["tenant_id"])


def _signed_up(tenant_id: str) -> Tenant:
    tenant = Tenant.objects.filter(tenant_id=tenant_id).first()
    if tenant is None:
        raise Http404("No workspace with this address.")
    return tenant


def signup_progress(request: HttpRequest, tenant_id: str) -> HttpResponse:
    """The sign-up's progress: the page polls :func:`signup_status` until it is done."""
    tenant = _signed_up(tenant_id)
    return render(request, "demo/progress.html", _progress(request, tenant))


def signup_status(request: HttpRequest, tenant_id: str) -> JsonResponse:
    """The tenant's provisioning state, read from the master on every poll."""
    return JsonResponse(_progress(request, _signed_up(tenant_id)))


def _progress(request: HttpRequest, tenant: Tenant) -> dict[str, str]:
    return {
        "tenant_id": tenant.tenant_id,
        "name": tenant.name,
        "status": str(tenant.status),
        "detail": tenant.status_detail if tenant.status == TenantStatus.FAILED else "",
        "sign_in_url": url_of_host(request, signup.host_of(tenant.tenant_id)) + "accounts/login/",
    }


# -- a tenant's host ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def tenant_home(request: HttpRequest) -> HttpResponse:
    """<tenant>.localhost: the tenant's notes, a form for a new one, its media file."""
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Note added.")
        return redirect("home")
    # The tenant's own folder of the media storage (var/media/<tenant id>/).
    welcome = None
    if default_storage.exists(WELCOME_FILE):
        with default_storage.open(WELCOME_FILE) as handle:
            welcome = handle.read().decode()
    return render(
        request,
        "demo/notes.html",
        {
            "form": form,
            "notes": Note.objects.order_by("-pk"),
            "welcome": welcome,
            "welcome_url": default_storage.url(WELCOME_FILE),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def note_edit(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(Note, pk=pk)
    form = NoteForm(request.POST or None, instance=note)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Note saved.")
        return redirect("home")
    return render(request, "demo/note_edit.html", {"form": form, "note": note})


@login_required
@require_http_methods(["GET", "POST"])
def note_delete(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(Note, pk=pk)
    if request.method == "POST":
        note.delete()
        messages.success(request, "Note deleted.")
        return redirect("home")
    return render(request, "demo/note_delete.html", {"note": note})
