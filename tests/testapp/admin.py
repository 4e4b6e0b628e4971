"""Admin of the test project's master models."""

from django.contrib import admin

from django_omnitenant.admin import TenantAdmin
from tests.testapp.models import Tenant

admin.site.register(Tenant, TenantAdmin)
