"""The tenants' URLconf (TENANT_URLCONF): each tenant's notes, sign-in, admin and files.

Everything here runs inside the host's tenant: the notes, the users who sign in and the
admin's rows are that tenant's.
"""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from demo import views

urlpatterns = [
    path("", views.tenant_home, name="home"),
    path("notes/<int:pk>/edit/", views.note_edit, name="note-edit"),
    path("notes/<int:pk>/delete/", views.note_delete, name="note-delete"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
# Development only (runserver): MEDIA_ROOT holds every tenant's folder.
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
