"""An unchanged app, as a project writes it: named URLs, the admin, a login redirect.

Nothing here knows about tenants or about ``/t/<tenant>/``: the tests serve it under
host routing and under subfolder routing and expect both to work.
"""

from __future__ import annotations

import asyncio

from django.contrib import admin
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.urls import get_script_prefix, path, reverse
from django.views import View


def where(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "reverse": reverse("where"),
            "absolute": request.build_absolute_uri(),
            "absolute_of_reverse": request.build_absolute_uri(reverse("where")),
            "path": request.path,
            "path_info": request.path_info,
            "full_path": request.get_full_path(),
            "script_prefix": get_script_prefix(),
        }
    )


async def slow_where(request: HttpRequest) -> JsonResponse:
    # Yield to the event loop between reading the path and reversing: another request
    # (another tenant) runs in between.
    before = reverse("slow")
    await asyncio.sleep(0.05)
    return JsonResponse({"before": before, "after": reverse("slow")})


def go_where(request: HttpRequest) -> HttpResponseRedirect:
    return redirect("where")


def login(request: HttpRequest) -> HttpResponse:
    return HttpResponse("the login page")


class PrivateView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(f"private page of {request.user.get_username()}")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("where/", where, name="where"),
    path("slow/", slow_where, name="slow"),
    path("go/", go_where, name="go"),
    path("login/", login, name="login"),
    path("private/", PrivateView.as_view(), name="private"),
]
