"""The URL configuration of every variant."""

from __future__ import annotations

from django.urls import path

from reqbench.views import notes

urlpatterns = [path("notes/", notes)]
