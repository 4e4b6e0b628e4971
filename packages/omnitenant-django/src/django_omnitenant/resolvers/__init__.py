"""The resolvers of the Django app, under the API reference's import paths.

Each is the framework-free resolver of :mod:`omnitenant_resolvers`, reading tenants from
the Django app's cached ORM store unless given another store. Any of them can be the
``TENANT_RESOLVER`` setting, e.g. ``"django_omnitenant.resolvers.SubdomainTenantResolver"``.
"""

from __future__ import annotations

from django_omnitenant.resolvers.base import BaseTenantResolver
from django_omnitenant.resolvers.customdomain_resolver import CustomDomainTenantResolver
from django_omnitenant.resolvers.subdomain_resolver import SubdomainTenantResolver
from omnitenant_resolvers import ChainTenantResolver as _Chain
from omnitenant_resolvers import HeaderTenantResolver as _Header
from omnitenant_resolvers import PathPrefixTenantResolver as _PathPrefix

__all__ = [
    "BaseTenantResolver",
    "ChainTenantResolver",
    "CustomDomainTenantResolver",
    "HeaderTenantResolver",
    "PathPrefixTenantResolver",
    "SubdomainTenantResolver",
]


class HeaderTenantResolver(BaseTenantResolver, _Header):
    """The tenant id from a trusted header.

    See :class:`omnitenant_resolvers.HeaderTenantResolver` for when it is safe to use.
    """


class PathPrefixTenantResolver(BaseTenantResolver, _PathPrefix):
    """The tenant id from the path; see :class:`omnitenant_resolvers.PathPrefixTenantResolver`."""


class ChainTenantResolver(BaseTenantResolver, _Chain):
    """Several resolvers in order; see :class:`omnitenant_resolvers.ChainTenantResolver`."""
