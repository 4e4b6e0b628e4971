"""Host, header and path tenant resolvers with a cached tenant lookup.

Independent of any web framework: no Django import. Resolvers read a
:class:`~omnitenant_context.RequestLike` (Django's ``HttpRequest`` is one) and find tenants
through a :class:`~omnitenant_context.TenantStore`, usually wrapped in a
:class:`CachedTenantStore`.
"""

from omnitenant_resolvers.__about__ import __version__
from omnitenant_resolvers._cache import CachedTenantStore, VersionSource
from omnitenant_resolvers._hosts import MAX_HOST_LENGTH, normalize_host, normalize_host_cached
from omnitenant_resolvers._resolvers import (
    HOST_ATTRIBUTE,
    BaseTenantResolver,
    ChainTenantResolver,
    CustomDomainTenantResolver,
    HeaderTenantResolver,
    PathPrefixTenantResolver,
    SubdomainTenantResolver,
)

__all__ = [
    "HOST_ATTRIBUTE",
    "MAX_HOST_LENGTH",
    "BaseTenantResolver",
    "CachedTenantStore",
    "ChainTenantResolver",
    "CustomDomainTenantResolver",
    "HeaderTenantResolver",
    "PathPrefixTenantResolver",
    "SubdomainTenantResolver",
    "VersionSource",
    "__version__",
    "normalize_host",
    "normalize_host_cached",
]
