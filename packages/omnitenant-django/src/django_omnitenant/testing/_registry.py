"""Tenants made for a test run: created once per tenant id, dropped when the run ends.

Provisioning a tenant is the slow part of a tenant test (a schema cloned from the
template, or a database created and migrated), so a :class:`TenantRegistry` makes each
tenant id once and hands the same tenant to every later test that asks for it. The data a
test writes is kept apart by a transaction rolled back after the test (see
:func:`rolled_back`), not by a new tenant.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.db import connections, transaction

from django_omnitenant import provisioning
from django_omnitenant.utils import get_tenant_model
from omnitenant_backends.conf import backend_settings
from omnitenant_backends.placement import storage_alias
from omnitenant_context import IsolationType, OmnitenantError, Tenant, TenantContext

if TYPE_CHECKING:
    from django_omnitenant.models import BaseTenant

__all__ = [
    "REUSE_ENVIRONMENT_VARIABLE",
    "TenantRegistry",
    "TenantSetupError",
    "current_registry",
    "default_domain",
    "reuse_from_environment",
    "rolled_back",
    "transaction_aliases",
    "use_registry",
]

logger = logging.getLogger("omnitenant.testing")

#: ``0``/``false``/``no``/``off`` makes every test (pytest) or class (``TenantTestCase``)
#: create its tenants anew, to measure what reuse saves; it wins over the ini option.
REUSE_ENVIRONMENT_VARIABLE = "OMNITENANT_TEST_REUSE_TENANTS"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class TenantSetupError(OmnitenantError):
    """A test tenant cannot be made or reused as asked; the message says what to change."""


def reuse_from_environment(default: bool) -> bool:
    """Whether tenants are reused across tests, from ``OMNITENANT_TEST_REUSE_TENANTS``."""
    raw = os.environ.get(REUSE_ENVIRONMENT_VARIABLE, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise TenantSetupError(
        f"{REUSE_ENVIRONMENT_VARIABLE}={raw!r} is neither on ({', '.join(sorted(_TRUE))}) "
        f"nor off ({', '.join(sorted(_FALSE))})."
    )


def default_domain(tenant_id: str) -> str:
    """The primary domain a test tenant gets unless told otherwise: ``<id>.testserver``.

    Underscores become hyphens: they are not allowed in host names.
    """
    return f"{tenant_id.replace('_', '-')}.testserver"


@dataclass(frozen=True)
class _Request:
    isolation_type: str
    name: str
    domain: str
    fields: tuple[tuple[str, Any], ...]


class TenantRegistry:
    """Creates test tenants on first request and hands out the same one afterwards.

    Each tenant is created through the public path
    (:func:`django_omnitenant.provisioning.create_tenant`, which clones schema tenants
    from the migrated template), with a primary domain, and is remembered by its id. Asking again
    for the same id with different options is an error rather than a silent mismatch.
    :meth:`close` drops every tenant made here: its storage, its row and its domains.

    Tenants must be created outside any transaction on the master database: their DDL,
    new databases and other connections cannot be rolled back with a test's data, and a
    schema created inside a test transaction would vanish while still being remembered.

    Args:
        reuse: keep tenants until :meth:`close`; with ``False``, :meth:`release` drops a
            tenant as soon as its test is over.
        database_access: entered around every creation and drop; the pytest plugin passes
            pytest-django's ``django_db_blocker.unblock``.
    """

    def __init__(
        self,
        *,
        reuse: bool = True,
        database_access: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        self.reuse = reuse
        self._database_access = database_access
        self._tenants: dict[str, tuple[Tenant, _Request]] = {}

    def __call__(
        self,
        tenant_id: str,
        *,
        isolation_type: str = IsolationType.SCHEMA.value,
        name: str | None = None,
        domain: str | None = None,
        **fields: Any,
    ) -> Tenant:
        """Return the tenant ``tenant_id``, creating it the first time.

        ``fields`` go to the tenant model (``database_config={...}`` for a PostgreSQL
        database tenant, for example).
        """
        request = _Request(
            isolation_type=str(isolation_type),
            name=name or tenant_id.replace("_", " ").title(),
            domain=domain or default_domain(tenant_id),
            fields=tuple(sorted(fields.items())),
        )
        known = self._tenants.get(tenant_id)
        if known is not None:
            tenant, made_with = known
            if made_with != request:
                raise TenantSetupError(
                    f"Test tenant {tenant_id!r} was created with {made_with} and is now "
                    f"asked for with {request}; use one set of options per tenant id, or "
                    "another id."
                )
            return tenant
        tenant = self._create(tenant_id, request)
        self._tenants[tenant_id] = (tenant, request)
        return tenant

    def __contains__(self, tenant_id: object) -> bool:
        return tenant_id in self._tenants

    def release(self, tenant_id: str) -> None:
        """Drop ``tenant_id`` now unless tenants are reused (a test that used it ended)."""
        if self.reuse or tenant_id not in self._tenants:
            return
        tenant, _request = self._tenants.pop(tenant_id)
        self._drop(tenant)

    def close(self) -> None:
        """Drop every tenant this registry made, newest first.

        A failure does not stop the others from being dropped; all failures are raised
        together afterwards.
        """
        failures: list[Exception] = []
        while self._tenants:
            tenant_id = next(reversed(self._tenants))
            tenant, _request = self._tenants.pop(tenant_id)
            try:
                self._drop(tenant)
            except Exception as exc:  # collected and raised below, after the others
                logger.exception("dropping test tenant %s", tenant_id)
                failures.append(exc)
        if failures:
            raise ExceptionGroup("dropping test tenants failed; remove them by hand", failures)

    def _create(self, tenant_id: str, request: _Request) -> Tenant:
        master = backend_settings().master_database
        with self._database_access(), TenantContext.use_master_db():
            if connections[master].in_atomic_block:
                raise TenantSetupError(
                    f"Test tenant {tenant_id!r} would be created inside a transaction on "
                    f"{master!r} (a test transaction, the 'db' fixture or a django_db "
                    "marker?). Create tenants before the test's transaction starts: "
                    "request them through active_tenant or a session fixture, and do not "
                    "combine active_tenant with 'db'."
                )
            tenant_model = get_tenant_model()
            if tenant_model._default_manager.filter(tenant_id=tenant_id).exists():
                raise TenantSetupError(
                    f"A tenant {tenant_id!r} already exists in the test database, not made "
                    "by this test run (left over from an aborted run with --reuse-db?); "
                    "delete it or run with --create-db."
                )
            # All or nothing: on failure nothing of the tenant is left.
            tenant = provisioning.create_tenant(
                tenant_id,
                name=request.name,
                isolation_type=request.isolation_type,
                domains=[request.domain],
                **dict(request.fields),
            )
        logger.info("created test tenant %s", tenant_id)
        return tenant

    def _drop(self, tenant: Tenant) -> None:
        with self._database_access(), TenantContext.use_master_db():
            # The registry's own tenants, whatever their state: no mark needed.
            provisioning.purge_tenant(
                cast("BaseTenant", tenant),
                require_mark=False,
            )
        logger.info("dropped test tenant %s", tenant.tenant_id)


_current: list[TenantRegistry] = []


def current_registry() -> TenantRegistry | None:
    """The registry of the running test session, if one was installed with :func:`use_registry`."""
    return _current[-1] if _current else None


@contextmanager
def use_registry(registry: TenantRegistry) -> Iterator[TenantRegistry]:
    """Make ``registry`` the session's (so ``TenantTestCase`` classes share its tenants)."""
    _current.append(registry)
    try:
        yield registry
    finally:
        _current.remove(registry)


def transaction_aliases(tenants: Sequence[Tenant]) -> list[str]:
    """The connection aliases a test inside ``tenants`` may write to, master first.

    Schema tenants live on their server's connection (the master's unless placed
    elsewhere); each database tenant adds its own alias (registered in this process if it
    was not yet).
    """
    aliases = [backend_settings().master_database]
    for tenant in tenants:
        alias = storage_alias(tenant)
        if alias not in aliases:
            aliases.append(alias)
    return aliases


@contextmanager
def rolled_back(aliases: Sequence[str]) -> Iterator[None]:
    """One transaction per alias around the body, all rolled back at the end.

    This is how a test's data is isolated for both kinds of tenant: a schema tenant's rows
    are written on the master connection (the schema is chosen by ``search_path``), a
    database tenant's on its own alias; rolling back every one of them undoes all of it.
    Truncating instead would cost a statement per table and per tenant after every test.
    """
    with ExitStack() as stack:
        for alias in aliases:
            stack.enter_context(_rolled_back(alias))
        yield


@contextmanager
def _rolled_back(alias: str) -> Iterator[None]:
    with transaction.atomic(using=alias):
        try:
            yield
        finally:
            transaction.set_rollback(True, using=alias)
