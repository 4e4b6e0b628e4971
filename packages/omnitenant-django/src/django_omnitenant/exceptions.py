"""The exceptions of the API reference; all derive from ``OmnitenantError``."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from omnitenant_backends.conf import OmnitenantConfigurationError
from omnitenant_context.exceptions import (
    ConfigurationError,
    DomainNotFound,
    InvalidHost,
    InvalidIdentifier,
    NoTenantActive,
    OmnitenantError,
    ProvisioningError,
    TenantInactive,
    TenantNotFound,
)

__all__ = [
    "ConfigurationError",
    "DomainNotFound",
    "ImproperlyConfigured",
    "InvalidHost",
    "InvalidIdentifier",
    "NoTenantActive",
    "OmnitenantConfigurationError",
    "OmnitenantError",
    "ProvisioningError",
    "TenantInactive",
    "TenantNotFound",
]
