"""The example's only view."""

from customers.models import Tenant
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from notes.models import Note


def home(request: HttpRequest) -> HttpResponse:
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        _, _, port = request.get_host().rpartition(":")
        suffix = f":{port}" if port.isdigit() else ""
        return render(request, "public.html", {"tenants": Tenant.objects.all(), "port": suffix})
    return render(request, "tenant.html", {"tenant": tenant, "notes": Note.objects.all()})
