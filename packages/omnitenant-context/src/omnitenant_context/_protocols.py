"""The interfaces through which omnitenant's layers meet.

Every layer depends on these Protocols, never on another layer's classes: a Django model
instance and a plain dataclass are both a :class:`Tenant`; the ORM-backed store of the
Django app and a dict in a unit test are both a :class:`TenantStore`. Implementations do
not need to subclass anything; conformance is structural and checked statically.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from omnitenant_context._state import ContextState
from omnitenant_context._tenant import Tenant

__all__ = [
    "ContextListener",
    "PathMountingResolver",
    "RequestLike",
    "TenantBackend",
    "TenantResolver",
    "TenantStore",
]


@runtime_checkable
class TenantStore(Protocol):
    """Finds tenants without knowing how they are stored.

    Resolvers and the Celery worker ask a store; the Django app supplies one backed by
    the ORM. A deleted (or retired) tenant is ``None``, exactly like an unknown one. A
    store may return a tenant that exists but is not usable right now (a lifecycle state
    such as suspended or in maintenance, in a ``status`` attribute) so that its caller
    can say why; callers that may only use active tenants check it, and the Django app's
    Celery store returns active tenants only.
    """

    def get_by_id(self, tenant_id: str) -> Tenant | None:
        """Return the usable tenant whose id is ``tenant_id``, or ``None``."""
        ...

    def get_by_domain(self, domain: str) -> Tenant | None:
        """Return the usable tenant that owns the normalised host ``domain``, or ``None``.

        ``domain`` is already normalised by the caller: lower case, no port, no trailing
        dot, IDNA-encoded.
        """
        ...


@runtime_checkable
class RequestLike(Protocol):
    """The little of an HTTP request that a resolver reads.

    Django's ``HttpRequest`` conforms as it is; so does a small object built from an
    ASGI scope or in a test.
    """

    @property
    def headers(self) -> Mapping[str, str]:
        """The request headers; lookups must be case-insensitive, as in HTTP."""
        ...

    @property
    def path(self) -> str:
        """The URL path, starting with ``/``, without the query string."""
        ...

    def get_host(self) -> str:
        """The host the client asked for, possibly with a port."""
        ...


@runtime_checkable
class TenantResolver(Protocol):
    """Decides which tenant a request is for."""

    def resolve(self, request: RequestLike) -> Tenant | None:
        """Return the request's tenant, or ``None`` when the request names no tenant.

        A resolver must not raise for a request from an unknown tenant (that is
        ``None``); it raises :class:`~omnitenant_context.InvalidHost` only when the
        request itself is malformed.
        """
        ...


@runtime_checkable
class PathMountingResolver(Protocol):
    """A resolver that reads the tenant from the start of the path ("subfolder routing").

    The Django middleware asks it which leading part of the path named the tenant, and
    serves the rest of the path below that part as if the site were mounted there (as
    under a ``SCRIPT_NAME``): the URLconf never sees the tenant segment, and URLs built
    by ``reverse()`` get it back.
    """

    def mount_point(self, request: RequestLike, tenant: Tenant) -> str | None:
        """The leading part of the path that names ``tenant``, or ``None``.

        The part starts with ``/`` and does not end with one (``"/t/acme"``); the path
        is that part, followed by nothing or by ``/`` and the rest. ``None`` means the
        tenant was not found through the path and the path is served as it is.
        """
        ...


@runtime_checkable
class TenantBackend(Protocol):
    """Creates, activates, migrates and deletes the storage of one tenant.

    There is one implementation per isolation model. Every method acts on the tenant the
    backend was built for.
    """

    def create(self, *, run_migrations: bool = True) -> None:
        """Provision the tenant's storage, all or nothing.

        Raises:
            ProvisioningError: Provisioning failed; nothing it made is left behind.
        """
        ...

    def activate(self) -> None:
        """Make the tenant's storage ready for use in the current context."""
        ...

    def deactivate(self) -> None:
        """Undo :meth:`activate`."""
        ...

    def migrate(self) -> None:
        """Apply outstanding migrations to the tenant's storage."""
        ...

    def delete(self, *, drop_data: bool = False) -> None:
        """Retire the tenant's storage.

        Nothing is dropped unless ``drop_data`` is true; shared storage (the public
        schema, the master database) is never dropped.
        """
        ...


@runtime_checkable
class ContextListener(Protocol):
    """Hears every change of the tenant context, for layers that must act eagerly.

    Isolation itself is lazy (the database engine, router and cache read the context when
    they need it); listeners exist for side effects such as sending signals or logging.
    A listener runs synchronously inside the ``with`` statement that changed the context,
    so it must be fast and must not change the context itself.
    """

    def context_changed(self, previous: ContextState, current: ContextState) -> None:
        """Called after the context changed from ``previous`` to ``current``."""
        ...
