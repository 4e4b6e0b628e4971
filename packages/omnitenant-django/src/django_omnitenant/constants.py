"""Constants of the omnitenant Django app."""

from __future__ import annotations

from typing import Final

from django.db import models

from omnitenant_context import IsolationType

__all__ = ["CONFIG_SETTING", "IsolationType", "TenantStatus"]

#: The name of the Django setting that holds omnitenant's configuration.
CONFIG_SETTING: Final = "OMNITENANT_CONFIG"


class TenantStatus(models.TextChoices):
    """Where a tenant is in its life: only ``active`` tenants are served."""

    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    MARKED_FOR_DELETION = "marked_for_deletion", "Marked for deletion"
