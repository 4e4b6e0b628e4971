"""The project's tenant and domain models, as ``OMNITENANT_CONFIG`` would name them."""

from __future__ import annotations

from django.db import models

from django_omnitenant.models import BaseDomain, BaseTenant


class Customer(BaseTenant):
    """A paying customer: the tenant model, with a field of the project's own."""

    plan = models.CharField(max_length=20, default="free")

    class Meta(BaseTenant.Meta):
        app_label = "consumer"

    @property
    def is_paying(self) -> bool:
        return self.plan != "free"


class CustomerDomain(BaseDomain):
    """A host of a customer."""

    class Meta(BaseDomain.Meta):
        app_label = "consumer"
