"""The tenant and domain models of the omnitenant variants."""

from __future__ import annotations

from django_omnitenant.models import BaseDomain, BaseTenant


class Tenant(BaseTenant):
    pass


class Domain(BaseDomain):
    pass
