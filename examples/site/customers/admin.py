"""The tenants in the operators' admin on the public host (never on a tenant's host)."""

from django.contrib import admin

from customers.models import Tenant
from django_omnitenant.admin import TenantAdmin

admin.site.register(Tenant, TenantAdmin)
