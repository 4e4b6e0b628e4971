"""The example's master models."""

from django_omnitenant.models import BaseDomain, BaseTenant


class Tenant(BaseTenant):
    pass


class Domain(BaseDomain):
    pass
