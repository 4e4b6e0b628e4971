"""Constants of the omnitenant Django app."""

from __future__ import annotations

from typing import Final

from django.db import models

from omnitenant_context import IsolationType

__all__ = ["CONFIG_SETTING", "IsolationType", "TenantStatus"]

#: The name of the Django setting that holds omnitenant's configuration.
CONFIG_SETTING: Final = "OMNITENANT_CONFIG"


class TenantStatus(models.TextChoices):
    """Where a tenant is in its life (its lifecycle state).

    Only :mod:`django_omnitenant.provisioning` moves a tenant from one state to another.
    What each state means for requests, Celery tasks and fleet commands is in
    ``docs/operations.md``: only ``active`` tenants are served in full; ``maintenance``
    is read-only (enforced by the database), ``provisioning`` and ``maintenance`` answer
    503, ``suspended`` 403 or 404, ``marked_for_deletion`` and ``failed`` 404.
    """

    PROVISIONING = "provisioning", "Provisioning"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    MAINTENANCE = "maintenance", "Maintenance (read-only)"
    MARKED_FOR_DELETION = "marked_for_deletion", "Marked for deletion"
    FAILED = "failed", "Failed"
