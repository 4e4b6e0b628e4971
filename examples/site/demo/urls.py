"""The tenants' URLconf (TENANT_URLCONF): each tenant's home and uploaded files."""

from django.conf import settings
from django.conf.urls.static import static
from django.urls import path

from demo import views

urlpatterns = [path("", views.tenant_home, name="home")]
# Development only (runserver): MEDIA_ROOT holds every tenant's folder.
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
