"""The tenant context: which tenant (or which shared scope) the current code runs in."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import replace
from types import TracebackType
from typing import Any, TypeVar, final

from omnitenant_context._identifiers import check_identifier
from omnitenant_context._protocols import ContextListener
from omnitenant_context._state import EMPTY_STATE, ContextState
from omnitenant_context._tenant import Tenant
from omnitenant_context.exceptions import NoTenantActive

__all__ = ["TenantContext", "TenantScope"]

_R = TypeVar("_R")


_state: ContextVar[ContextState] = ContextVar("omnitenant_context_state", default=EMPTY_STATE)

# Listeners are few and change rarely (at start-up); the hot path reads a tuple without
# taking the lock and skips all listener work when the tuple is empty.
_listeners: tuple[ContextListener, ...] = ()
_listeners_lock = threading.Lock()


@final
class TenantScope:
    """Context manager returned by the ``TenantContext.use_*`` methods.

    Entering sets the new state; leaving restores exactly the state that was current
    before, even when the body raised, even when the body changed the context itself
    without restoring it. A scope can be entered once; create a new one to enter again.
    Usable with ``with`` in synchronous and asynchronous code alike.
    """

    __slots__ = ("_previous", "_schema", "_state", "_token")

    def __init__(self, state: ContextState, *, schema: str | None = None) -> None:
        # With ``schema``, the state is derived from the one current at ``__enter__``
        # (not at creation), so a scope made early and entered later stays correct.
        self._state = state
        self._schema = schema
        self._token: Token[ContextState] | None = None
        self._previous = EMPTY_STATE

    def __enter__(self) -> Tenant | None:
        if self._token is not None:
            raise RuntimeError("A TenantScope can be entered only once; create a new one.")
        previous = self._previous = _state.get()
        if self._schema is not None:
            self._state = replace(previous, master=False, schema=self._schema)
        self._token = _state.set(self._state)
        if _listeners:
            try:
                _notify(self._previous, self._state)
            except BaseException:
                _state.reset(self._token)
                raise
        return self._state.tenant

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token = self._token
        if token is None:
            raise RuntimeError("This TenantScope was never entered.")
        # ``reset`` with the token restores the value from before ``__enter__``, not the
        # value the body may have left behind by setting the variable directly.
        _state.reset(token)
        if _listeners:
            _notify(self._state, self._previous)


def _notify(previous: ContextState, current: ContextState) -> None:
    for listener in _listeners:
        listener.context_changed(previous, current)


class TenantContext:
    """The current tenant, stored in a :class:`contextvars.ContextVar`.

    Every thread starts with no tenant; every asyncio task and every ``sync_to_async`` /
    ``async_to_sync`` call starts with a copy of its caller's context, and what it sets
    stays its own. Nothing is stored on a database connection or in a thread-local, so a
    tenant can never leak from one request, task or coroutine into another.

    All methods are class-level; the class is never instantiated::

        with TenantContext.use_tenant(acme):
            Invoice.objects.count()          # acme's invoices
            with TenantContext.use_master_db():
                Tenant.objects.count()       # the master database
            with TenantContext.use_schema("reporting"):
                ...                          # schema "reporting", tenant still acme
    """

    __slots__ = ()

    def __new__(cls) -> TenantContext:
        raise TypeError("TenantContext is used through its class methods only.")

    @staticmethod
    def get_tenant() -> Tenant | None:
        """Return the active tenant, or ``None`` outside any tenant.

        Inside :meth:`use_master_db` this is ``None``: the master scope has no tenant.
        """
        return _state.get().tenant

    @staticmethod
    def require_tenant() -> Tenant:
        """Return the active tenant.

        Raises:
            NoTenantActive: No tenant is active.
        """
        tenant = _state.get().tenant
        if tenant is None:
            raise NoTenantActive(
                "No tenant is active. Run this code inside "
                "TenantContext.use_tenant(tenant), or in a request served for a tenant."
            )
        return tenant

    #: ``TenantContext.get_state()`` returns the current :class:`ContextState`
    #: (immutable; safe to keep). It is the context variable's own ``get``: the router and
    #: the engine call it for every query, and a Python function around it would add a
    #: frame to each call.
    get_state: Callable[[], ContextState] = staticmethod(_state.get)

    @staticmethod
    def is_master() -> bool:
        """Tell whether the code runs inside :meth:`use_master_db`."""
        return _state.get().master

    @staticmethod
    def use_tenant(tenant: Tenant) -> TenantScope:
        """Run the ``with`` body in ``tenant``.

        Any master scope or schema override active outside is left for the body's
        duration and comes back afterwards.

        Args:
            tenant: The tenant to activate; anything conforming to :class:`Tenant`.

        Returns:
            A context manager whose ``__enter__`` returns ``tenant``.

        Raises:
            TypeError: ``tenant`` is ``None`` (use :meth:`use_state` with an empty
                :class:`ContextState` to run with no tenant on purpose).
        """
        if tenant is None:
            raise TypeError(
                "use_tenant() needs a tenant, got None. To run without a tenant on "
                "purpose, use TenantContext.use_state(ContextState())."
            )
        return TenantScope(ContextState(tenant=tenant))

    @staticmethod
    def use_master_db() -> TenantScope:
        """Run the ``with`` body against the master database and the shared schema.

        Works inside any tenant; the tenant comes back when the body ends.
        """
        return TenantScope(ContextState(master=True))

    @staticmethod
    def use_schema(schema_name: str) -> TenantScope:
        """Run the ``with`` body with ``schema_name`` as the PostgreSQL schema.

        The active tenant, if any, stays active (for routing and the cache); only the
        schema that PostgreSQL connections search changes. The schema need not belong to
        a tenant: ``use_schema("public")`` reaches the shared schema.

        Raises:
            InvalidIdentifier: ``schema_name`` breaks the identifier rule.
        """
        check_identifier(schema_name, what="schema name")
        return TenantScope(EMPTY_STATE, schema=schema_name)

    @staticmethod
    def use_state(state: ContextState) -> TenantScope:
        """Run the ``with`` body in a state captured earlier with :meth:`get_state`.

        This is how the context crosses boundaries that do not copy it on their own, such
        as a thread pool or a task queue; ``use_state(ContextState())`` runs the body with
        no tenant at all.
        """
        if not isinstance(state, ContextState):
            raise TypeError(f"use_state() needs a ContextState, got {type(state).__name__}.")
        return TenantScope(state)

    @staticmethod
    def run_in_state(state: ContextState, func: Callable[..., _R], /, *args: Any) -> _R:
        """``func(*args)`` run in ``state``: the same as ``with use_state(state): func(*args)``.

        One call instead of a scope object and its ``__enter__`` / ``__exit__``, for code
        that runs once per request (the middleware, the response's ``close()``). Listeners
        are told as with :meth:`use_state`, and the previous state is restored however
        ``func`` ends.
        """
        if not isinstance(state, ContextState):
            raise TypeError(f"run_in_state() needs a ContextState, got {type(state).__name__}.")
        if _listeners:
            with TenantScope(state):
                return func(*args)
        token = _state.set(state)
        try:
            return func(*args)
        finally:
            _state.reset(token)

    @staticmethod
    def add_listener(listener: ContextListener) -> None:
        """Register ``listener`` to hear every later change of the context.

        Adding the same listener twice has no effect.
        """
        global _listeners  # noqa: PLW0603 - swapped whole so readers need no lock
        with _listeners_lock:
            if listener not in _listeners:
                _listeners = (*_listeners, listener)

    @staticmethod
    def remove_listener(listener: ContextListener) -> None:
        """Unregister ``listener``; removing one that is not registered has no effect."""
        global _listeners  # noqa: PLW0603 - swapped whole so readers need no lock
        with _listeners_lock:
            _listeners = tuple(item for item in _listeners if item is not listener)
