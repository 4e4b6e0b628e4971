"""The master models of the test project: its tenant and domain."""

from __future__ import annotations

from django_omnitenant.models import BaseDomain, BaseTenant


class Tenant(BaseTenant):
    pass


class Domain(BaseDomain):
    pass
