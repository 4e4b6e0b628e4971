"""One page: who am I, and my notes."""

from django.urls import path

from demo import views

urlpatterns = [path("", views.home)]
