"""The public host's URLconf (PUBLIC_URLCONF, and ROOT_URLCONF): landing page and sign-up.

ROOT_URLCONF is what Django's checks and commands import outside any tenant, so it names
this one, which reads only master tables. Its admin is the operators' (the master's
users), where the tenants are managed.
"""

from django.contrib import admin
from django.urls import include, path

from demo import views

urlpatterns = [
    path("", views.public_home, name="home"),
    path("signup/", views.signup_start, name="signup"),
    path("signup/<str:tenant_id>/", views.signup_progress, name="signup-progress"),
    path("signup/<str:tenant_id>/status/", views.signup_status, name="signup-status"),
    path("admin/", admin.site.urls),
    path("console/", include("django_omnitenant.console.urls")),
]
