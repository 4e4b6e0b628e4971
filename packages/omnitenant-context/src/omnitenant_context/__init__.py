"""omnitenant-context: the tenant context, interfaces and exceptions of omnitenant.

This distribution has no dependencies beyond the standard library. Every other omnitenant
package builds on it; code that only needs to know *which tenant is active* can depend on
it alone.
"""

from omnitenant_context.__about__ import __version__
from omnitenant_context._context import TenantContext, TenantScope
from omnitenant_context._identifiers import (
    MAX_IDENTIFIER_LENGTH,
    RESERVED_WORDS,
    check_identifier,
    is_valid_identifier,
)
from omnitenant_context._protocols import (
    ContextListener,
    PathMountingResolver,
    RequestLike,
    TenantBackend,
    TenantResolver,
    TenantStore,
)
from omnitenant_context._state import EMPTY_STATE, ContextState
from omnitenant_context._tenant import IsolationType, Tenant
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
    "EMPTY_STATE",
    "MAX_IDENTIFIER_LENGTH",
    "RESERVED_WORDS",
    "ConfigurationError",
    "ContextListener",
    "ContextState",
    "DomainNotFound",
    "InvalidHost",
    "InvalidIdentifier",
    "IsolationType",
    "NoTenantActive",
    "OmnitenantError",
    "PathMountingResolver",
    "ProvisioningError",
    "RequestLike",
    "Tenant",
    "TenantBackend",
    "TenantContext",
    "TenantInactive",
    "TenantNotFound",
    "TenantResolver",
    "TenantScope",
    "TenantStore",
    "__version__",
    "check_identifier",
    "is_valid_identifier",
]
