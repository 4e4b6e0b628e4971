"""The public host's URLconf (PUBLIC_URLCONF, and ROOT_URLCONF): the list of tenants.

ROOT_URLCONF is what Django's checks and commands import outside any tenant, so it names
this one, which reads only master tables.
"""

from django.urls import path

from demo import views

urlpatterns = [path("", views.public_home, name="home")]
