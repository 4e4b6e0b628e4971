"""Transactions of tenants off the master: ``atomic()`` covers the active tenant's connection.

A database tenant's rows live on its own connection alias, and a schema tenant placed on
another server (:mod:`omnitenant_backends.placement`) on that server's alias, but
``transaction.atomic()`` (and ``ATOMIC_REQUESTS``) open a transaction on the master's
``default`` alias only. Left alone, a rolled-back block would keep the tenant's writes.
Two mechanisms close that gap:

* **Following** (``OMNITENANT_CONFIG["ATOMIC_FOLLOWS_TENANT"]``, on by default; switched
  on by ``django_omnitenant``'s app start-up, never at import): an atomic block opened on
  the default alias (``atomic()``, ``atomic(using="default")``, ``ATOMIC_REQUESTS``)
  while such a tenant is active also opens one, with the same ``savepoint`` and
  ``durable``, on the tenant's alias. Both end together: an exception or
  ``set_rollback(True)`` on either rolls back both; otherwise the tenant's block commits
  first, then the master's (an error committing the tenant rolls the master back). There
  is no two-phase commit: if the master's own COMMIT fails after the tenant's succeeded,
  the tenant keeps its rows.
* **Refusing** (always on): a write routed to such a tenant while the default
  connection is inside an atomic block that the tenant's connection is not in raises
  :class:`~django.db.transaction.TransactionManagementError` instead of writing outside
  the transaction. With following on this only happens when the code enters another
  database tenant inside the block; open ``atomic()`` inside ``use_tenant(...)`` then.

:func:`follow_tenant_transactions` installs the following (wrapping ``Atomic.__enter__``
and ``__exit__`` of ``django.db.transaction``, which ``atomic()`` and Django's own
``ATOMIC_REQUESTS`` use); :func:`stop_following_tenant_transactions` removes it.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Final

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.transaction import Atomic, TransactionManagementError, set_rollback

from omnitenant_backends.conf import backend_settings
from omnitenant_context import IsolationType, TenantContext

__all__ = [
    "check_tenant_write",
    "follow_tenant_transactions",
    "is_following_tenant_transactions",
    "stop_following_tenant_transactions",
]

# Per Atomic object, the tenant blocks opened with it: a stack, since one Atomic object
# can be entered again before it exits (a recursive function decorated with atomic).
_FOLLOWERS: Final = "_omnitenant_followers"

_install_lock = threading.Lock()
_originals: tuple[Any, Any] | None = None


def follow_tenant_transactions() -> None:
    """Make atomic blocks on the default alias cover the active tenant's connection (idempotent)."""
    global _originals  # noqa: PLW0603 - the one switch of this module
    with _install_lock:
        if _originals is not None:
            return
        original_enter, original_exit = Atomic.__enter__, Atomic.__exit__

        def __enter__(self: Atomic) -> None:  # noqa: N807 - replaces Atomic.__enter__
            original_enter(self)
            try:
                follower = _open_follower(self.using, self.savepoint, self.durable)  # type: ignore[attr-defined]  # Django >= 3.2 has it; the stubs lag
            except BaseException as exc:
                original_exit(self, type(exc), exc, exc.__traceback__)
                raise
            self.__dict__.setdefault(_FOLLOWERS, []).append(follower)

        def __exit__(  # noqa: N807 - replaces Atomic.__exit__
            self: Atomic,
            exc_type: type[BaseException] | None,
            exc_value: BaseException | None,
            traceback: TracebackType | None,
        ) -> None:
            followers: list[Atomic | None] = self.__dict__.get(_FOLLOWERS) or [None]
            follower = followers.pop() if followers else None
            if follower is None:
                original_exit(self, exc_type, exc_value, traceback)
                return
            if exc_type is None:
                _agree_on_rollback(self.using or DEFAULT_DB_ALIAS, str(follower.using))
            try:
                follower.__exit__(exc_type, exc_value, traceback)
            except BaseException as exc:
                # The tenant could not commit: the master's block must not commit either.
                original_exit(self, type(exc), exc, exc.__traceback__)
                raise
            original_exit(self, exc_type, exc_value, traceback)

        Atomic.__enter__ = __enter__  # type: ignore[method-assign]  # the documented switch
        Atomic.__exit__ = __exit__  # type: ignore[method-assign]  # the documented switch
        _originals = (original_enter, original_exit)


def stop_following_tenant_transactions() -> None:
    """Undo :func:`follow_tenant_transactions` (blocks already open end as they began)."""
    global _originals  # noqa: PLW0603 - the one switch of this module
    with _install_lock:
        if _originals is None:
            return
        Atomic.__enter__, Atomic.__exit__ = _originals  # type: ignore[method-assign]  # restoring Django's
        _originals = None


def is_following_tenant_transactions() -> bool:
    """Whether :func:`follow_tenant_transactions` is installed."""
    return _originals is not None


def _active_tenant_alias() -> str | None:
    """The alias of the active tenant's own connection, when it is not the master's.

    A database tenant's alias, or the server of a schema tenant placed off the master.
    """
    state = TenantContext.get_state()
    tenant = state.tenant
    if tenant is None or state.master:
        return None
    if tenant.isolation_type == IsolationType.DATABASE:
        from omnitenant_backends.database import tenant_database_alias  # noqa: PLC0415 - cycle

        return tenant_database_alias(tenant)
    from omnitenant_backends.placement import placed_elsewhere  # noqa: PLC0415 - cycle

    return placed_elsewhere(tenant)


def _open_follower(using: str | None, savepoint: bool, durable: bool) -> Atomic | None:
    """Open the active tenant's block beside a block on ``using``, if it follows."""
    if using is not None and using not in (DEFAULT_DB_ALIAS, backend_settings().master_database):
        return None
    alias = _active_tenant_alias()
    if alias is None:
        return None
    follower = Atomic(alias, savepoint, durable)
    follower.__enter__()
    return follower


def _agree_on_rollback(master_alias: str, tenant_alias: str) -> None:
    """If either block was marked for rollback, mark the other one too."""
    master, tenant = connections[master_alias], connections[tenant_alias]
    if master.needs_rollback and not tenant.needs_rollback:
        set_rollback(True, using=tenant_alias)
    elif tenant.needs_rollback and not master.needs_rollback:
        set_rollback(True, using=master_alias)


def check_tenant_write(tenant_alias: str) -> None:
    """Refuse a write to ``tenant_alias`` that would escape an open atomic block.

    Called by the router for writes routed to a tenant's own alias (a database tenant's,
    or the server of a schema tenant placed off the master): when the default
    connection is inside an atomic block and the tenant's connection is not, the write
    would commit on its own whatever happens to the block.
    """
    master_alias = backend_settings().master_database
    for alias in {DEFAULT_DB_ALIAS, master_alias}:
        if connections[alias].in_atomic_block and not connections[tenant_alias].in_atomic_block:
            hint = (
                "enter the tenant before opening the block"
                if is_following_tenant_transactions()
                else "open the block inside use_tenant(), or set "
                "OMNITENANT_CONFIG['ATOMIC_FOLLOWS_TENANT'] = True"
            )
            raise TransactionManagementError(
                f"A write to the tenant's alias {tenant_alias!r} inside an atomic "
                f"block on {alias!r} that does not cover it would survive a rollback of "
                f"that block. Use transaction.atomic() so it covers the tenant: {hint}; "
                f"or atomic(using={tenant_alias!r}) explicitly."
            )
