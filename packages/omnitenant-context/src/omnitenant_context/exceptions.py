"""The exceptions every omnitenant package raises.

All of them derive from :class:`OmnitenantError`, so ``except OmnitenantError`` catches
anything omnitenant raises on purpose. Where a built-in exception describes the same
kind of failure (a missing key, a bad value), the omnitenant class derives from it too,
so code written against the built-ins keeps working.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DomainNotFound",
    "InvalidHost",
    "InvalidIdentifier",
    "NoTenantActive",
    "OmnitenantError",
    "ProvisioningError",
    "TenantInactive",
    "TenantNotFound",
]


class OmnitenantError(Exception):
    """Base class of every exception raised by omnitenant."""


class ConfigurationError(OmnitenantError):
    """omnitenant is configured in a way it cannot work with.

    The message names the setting to change. The Django app raises a subclass that is
    also a :class:`django.core.exceptions.ImproperlyConfigured`.
    """


class TenantNotFound(OmnitenantError, LookupError):
    """No tenant exists under the identifier or host that was asked for."""


class DomainNotFound(OmnitenantError, LookupError):
    """No domain record matches the host that was asked for."""


class TenantInactive(OmnitenantError):
    """The tenant exists but may not be used (it is suspended or marked for deletion)."""


class NoTenantActive(OmnitenantError, RuntimeError):
    """A tenant-scoped operation ran while no tenant was active.

    omnitenant fails closed: rather than reading or writing shared data by accident, a
    tenant-scoped query outside :meth:`TenantContext.use_tenant` raises this error.
    """


class InvalidIdentifier(OmnitenantError, ValueError):
    """A tenant id, schema name or database name breaks the identifier rule.

    See :func:`omnitenant_context.check_identifier` for the rule.
    """


class InvalidHost(OmnitenantError, ValueError):
    """A request's host is not a syntactically valid host name."""


class ProvisioningError(OmnitenantError):
    """Creating, migrating or deleting a tenant's storage failed.

    Provisioning is all-or-nothing: when this is raised, whatever the failed step had
    created was removed again. The original error is chained as ``__cause__``.
    """
