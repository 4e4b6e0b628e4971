"""Resolvers: which tenant a request is for, from its host, a header or its path."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Final

from omnitenant_context import (
    ConfigurationError,
    PathMountingResolver,
    RequestLike,
    Tenant,
    TenantResolver,
    TenantStore,
    is_valid_identifier,
)
from omnitenant_resolvers._hosts import normalize_host, normalize_host_cached

__all__ = [
    "HOST_ATTRIBUTE",
    "BaseTenantResolver",
    "ChainTenantResolver",
    "CustomDomainTenantResolver",
    "HeaderTenantResolver",
    "PathPrefixTenantResolver",
    "SubdomainTenantResolver",
]

#: Attribute of a request where whoever already read, validated and normalised its host
#: (the Django middleware does, before it asks the resolver) leaves it:
#: :meth:`BaseTenantResolver.host_of` answers from it instead of asking the request again
#: (Django's ``get_host()`` checks ``ALLOWED_HOSTS`` each time it is called).
HOST_ATTRIBUTE: Final = "omnitenant_host"


class BaseTenantResolver(ABC):
    """Base class of the resolvers; subclass it and implement :meth:`resolve`.

    A resolver finds tenants through a :class:`~omnitenant_context.TenantStore`. The
    Django app passes its cached ORM store by default, so a subclass written for Django
    needs no arguments::

        class ApiKeyResolver(BaseTenantResolver):
            def resolve(self, request):
                return self.store.get_by_id(request.headers.get("X-Customer", ""))
    """

    def __init__(self, store: TenantStore | None = None) -> None:
        self._store = store

    @property
    def store(self) -> TenantStore:
        """The store this resolver reads tenants from."""
        if self._store is None:
            raise ConfigurationError(
                f"{type(self).__name__} has no tenant store: pass store=... when creating it."
            )
        return self._store

    @abstractmethod
    def resolve(self, request: RequestLike) -> Tenant | None:
        """Return the request's tenant, or ``None`` when it names none.

        Raises:
            InvalidHost: The request's host is malformed.
        """

    @staticmethod
    def host_of(request: RequestLike) -> str:
        """The request's host, normalised (see :func:`normalize_host`).

        Read from the request's :data:`HOST_ATTRIBUTE` when a caller left it there.
        """
        host = getattr(request, HOST_ATTRIBUTE, None)
        if isinstance(host, str):
            return host
        return normalize_host_cached(request.get_host())


class CustomDomainTenantResolver(BaseTenantResolver):
    """Finds the tenant that owns the request's host among the stored domains.

    ``acme.example.com``, ``www.acme-corp.com`` and ``shop.acme.io`` can all belong to
    one tenant; each host is a domain record.
    """

    def resolve(self, request: RequestLike) -> Tenant | None:
        return self.store.get_by_domain(self.host_of(request))


class SubdomainTenantResolver(BaseTenantResolver):
    """Reads the tenant id from the first label under ``base_domain``.

    With ``base_domain="example.com"``, ``acme.example.com`` is tenant ``acme`` and
    ``acme-corp.example.com`` is tenant ``acme_corp`` (host names cannot hold ``_``, tenant
    ids cannot hold ``-``). The base domain itself, deeper names such as
    ``a.b.example.com`` and labels that are no valid tenant id resolve to no tenant.
    No domain record is needed.
    """

    def __init__(self, base_domain: str | None = None, store: TenantStore | None = None) -> None:
        super().__init__(store)
        self._suffix = None if base_domain is None else "." + normalize_host(base_domain)

    @property
    def base_domain(self) -> str:
        """The normalised base domain."""
        if self._suffix is None:
            raise ConfigurationError(
                f"{type(self).__name__} needs base_domain (the Django app uses PUBLIC_HOST)."
            )
        return self._suffix[1:]

    def resolve(self, request: RequestLike) -> Tenant | None:
        host = self.host_of(request)
        suffix = "." + self.base_domain
        if not host.endswith(suffix):
            return None
        label = host[: -len(suffix)]
        if "." in label:
            return None
        tenant_id = label.replace("-", "_")
        if not is_valid_identifier(tenant_id):
            return None
        return self.store.get_by_id(tenant_id)


class HeaderTenantResolver(BaseTenantResolver):
    """Reads the tenant id from a request header (``X-Tenant-ID`` by default).

    Anyone can send any header: use this resolver only behind a proxy or gateway that
    sets the header itself and strips it from client requests, or for internal
    service-to-service traffic. It is never part of the default configuration.
    """

    def __init__(self, header: str = "X-Tenant-ID", store: TenantStore | None = None) -> None:
        super().__init__(store)
        self.header = header

    def resolve(self, request: RequestLike) -> Tenant | None:
        tenant_id = request.headers.get(self.header)
        if not tenant_id or not is_valid_identifier(tenant_id):
            return None
        return self.store.get_by_id(tenant_id)


class PathPrefixTenantResolver(BaseTenantResolver):
    """Reads the tenant id from the first path segment after ``prefix``.

    With ``prefix="/t/"``, ``/t/acme/invoices/`` is tenant ``acme``. The path read is the
    one below the site's own ``SCRIPT_NAME`` (Django's ``path_info``) when the request
    has one. The resolver itself rewrites nothing; :meth:`mount_point` tells the Django
    middleware which part to strip (``/t/acme``), so the URLconf sees ``/invoices/``.
    """

    def __init__(self, prefix: str = "/t/", store: TenantStore | None = None) -> None:
        super().__init__(store)
        if not prefix.startswith("/") or not prefix.endswith("/"):
            raise ConfigurationError("The path prefix must start and end with '/'.")
        self.prefix = prefix

    def resolve(self, request: RequestLike) -> Tenant | None:
        path = _path_below_script_name(request)
        if not path.startswith(self.prefix):
            return None
        tenant_id = path[len(self.prefix) :].split("/", 1)[0]
        if not is_valid_identifier(tenant_id):
            return None
        return self.store.get_by_id(tenant_id)

    def mount_point(self, request: RequestLike, tenant: Tenant) -> str | None:
        """``"/t/<tenant id>"`` when the path starts with it, else ``None``."""
        mount = self.prefix + tenant.tenant_id
        path = _path_below_script_name(request)
        if path == mount or path.startswith(mount + "/"):
            return mount
        return None


def _path_below_script_name(request: RequestLike) -> str:
    # Django's requests carry path_info (the path without SCRIPT_NAME); other
    # request-likes have only the path.
    path_info = getattr(request, "path_info", None)
    return path_info if isinstance(path_info, str) and path_info else request.path


class ChainTenantResolver(BaseTenantResolver):
    """Asks each resolver in turn; the first tenant found wins."""

    def __init__(
        self, resolvers: Iterable[TenantResolver], store: TenantStore | None = None
    ) -> None:
        super().__init__(store)
        self.resolvers = tuple(resolvers)
        if not self.resolvers:
            raise ConfigurationError("A resolver chain needs at least one resolver.")

    def resolve(self, request: RequestLike) -> Tenant | None:
        for resolver in self.resolvers:
            tenant = resolver.resolve(request)
            if tenant is not None:
                return tenant
        return None

    def mount_point(self, request: RequestLike, tenant: Tenant) -> str | None:
        """The mount point of the first path resolver in the chain that names ``tenant``."""
        for resolver in self.resolvers:
            if isinstance(resolver, PathMountingResolver):
                mount = resolver.mount_point(request, tenant)
                if mount is not None:
                    return mount
        return None
