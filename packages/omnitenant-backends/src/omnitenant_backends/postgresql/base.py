"""Django's PostgreSQL backend, made to follow the tenant context.

**Fail closed.** Inside a schema tenant the ``search_path`` is the tenant's schema alone
(plus ``EXTENSION_SCHEMAS``, which hold no tables): a table missing from the tenant's
schema is an error, never the master's rows. Master-scoped models reach the shared schema
through the master route (:mod:`omnitenant_backends.postgresql.master_route`): the same
connection, with the shared schema's path on the statements sent through it.

**The path travels with the statement.** Each raw cursor records the path its statements
need (decided when Django takes the cursor). When that differs from the path the
connection is known to have, the engine sends ``SET search_path TO "schema", ...`` in the
same message as the statement (Django's default client-side-binding cursor sends simple
queries, which may hold several statements), or ``SELECT set_config('search_path', ...)``
in one psycopg pipeline with it (server-side binding): one round trip, one implicit
transaction, as if the statement were alone. ``SET``, a utility statement, costs the
server about half of what the ``SELECT`` did (no planning, no row to send back). A warm
request that stays in one tenant sends nothing extra at all.

What the wrapper knows about the path is forgotten whenever PostgreSQL may have changed it
behind our back: on a new connection (a pooled one may come with any path), on rollback,
savepoint rollback and failed commit (a ``SET`` or ``set_config`` inside a rolled-back
transaction, the implicit one of an autocommit statement included, is undone by the
server), and on close. Forgetting costs no round trip, only the ``SET`` riding along next
time.

**Read-only tenants travel the same way.** A tenant whose ``is_read_only`` is true (a
``BaseTenant`` in maintenance) has every statement on its storage carry
``SET LOCAL transaction_read_only TO on`` in the same message as its path (in a pipeline:
``set_config('transaction_read_only', 'on', true)`` in the same ``SELECT``): the server
refuses writes in that transaction (the implicit one of an autocommit statement or of a
multi-statement message too), whatever code sends them, under a bare ``TenantContext.use_tenant()``
and behind any pooler, and nothing outlives the transaction. Its storage is the master
connection for a schema tenant (master-scoped statements in its scope included), its own
database for a database tenant; ``use_master_db()`` leaves it, and so does the
operator's own work in ``maintenance_writes()`` (the tenant's migrations). Active tenants
pay nothing.

**Poolers.** ``DATABASES[alias]["OMNITENANT_POOLER"]`` declares what sits between Django
and PostgreSQL:

* ``None`` (default): a direct connection, or Django's own pool (``OPTIONS["pool"]``).
  A brand-new unpooled connection receives its path (and time zone) in the start-up
  options, so with ``CONN_MAX_AGE = 0`` every request's connection starts in its tenant.
* ``"session"`` (PgBouncer ``pool_mode = session``): no start-up ``options`` (stock
  PgBouncer refuses them); the path is session state, set on first use.
* ``"transaction"`` (PgBouncer ``pool_mode = transaction``): nothing survives a
  transaction, so every transaction carries its path (``SET LOCAL search_path``, or
  ``set_config(..., true)`` in a pipeline: local to it, the implicit transaction block of
  a multi-statement message included) in the same round trip as its first statement.
  Server-side cursors, prepared statements and ``assume_role`` depend on session state
  and are refused.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final, Literal, cast

from django.db.backends.postgresql import base as postgresql_base
from psycopg import pq, sql

from omnitenant_backends._scope import writes_allowed_in_maintenance
from omnitenant_backends._sql import (
    SET_READ_ONLY_TRANSACTION,
    path_prefix,
    search_path_bytes,
    set_search_path_text,
)
from omnitenant_backends.conf import (
    BackendSettings,
    OmnitenantConfigurationError,
    backend_settings,
)
from omnitenant_backends.postgresql.affinity import (
    AFFINITY_KEY,
    ParkedConnections,
    affinity_size,
    usable,
)
from omnitenant_backends.postgresql.schema import DatabaseSchemaEditor
from omnitenant_context import ContextState, IsolationType, TenantContext
from omnitenant_context.observe import emit

__all__ = ["AFFINITY_KEY", "POOLER_KEY", "DatabaseWrapper", "PoolerMode", "wanted_search_path"]

logger = logging.getLogger("omnitenant.backends")

# What may go into a libpq "-c name=value" option unescaped (time zone names do).
_SAFE_OPTION_VALUE = re.compile(r"[A-Za-z0-9_/+\-]+")

#: Key in a connection's settings dict that marks a tenant's own database: its
#: connections never switch to a tenant schema, only to an explicit ``use_schema``.
TENANT_DATABASE_FLAG = "OMNITENANT_TENANT_DATABASE"

#: Key in a ``DATABASES`` entry declaring the connection pooler in front of the server.
POOLER_KEY: Final = "OMNITENANT_POOLER"

PoolerMode = Literal["session", "transaction"]
_POOLER_MODES: Final = (None, "session", "transaction")

_IN_TRANSACTION = pq.TransactionStatus.INTRANS
_READ_ONLY_TRANSACTION: Final = SET_READ_ONLY_TRANSACTION.encode()
_IDLE = pq.TransactionStatus.IDLE
# Attribute of a raw psycopg connection in Django's pool: the search_path it has.
_POOLED_PATH: Final = "_omnitenant_search_path"


def wanted_search_path(
    state: ContextState,
    *,
    tenant_database: bool,
    exclusive: bool = False,
    master_route: bool = False,
) -> tuple[str, ...]:
    """The ``search_path`` a connection should have in ``state``.

    A schema tenant (or a schema chosen with ``use_schema``) gets its schema alone,
    followed by ``EXTENSION_SCHEMAS``; the master gets the shared schema and the same
    extension schemas. ``master_route`` asks for the master's path whatever the state (the
    statements of master-scoped models). ``exclusive`` is accepted for compatibility:
    every tenant path leaves the shared schema out now.
    """
    del exclusive
    return _path_in(state, backend_settings(), tenant_database, master_route)


def _path_in(
    state: ContextState, conf: BackendSettings, tenant_database: bool, master_route: bool
) -> tuple[str, ...]:
    """:func:`wanted_search_path` with the settings already read (the engine's memo)."""
    schema = None if master_route else state.schema
    if schema is None and not master_route:
        tenant = state.tenant
        if (
            tenant is not None
            and not state.master
            and not tenant_database
            and tenant.isolation_type == IsolationType.SCHEMA
        ):
            schema = tenant.schema_name
    head = conf.public_schema if schema is None else schema
    extensions = conf.extension_schemas
    if not extensions:  # the usual case, without a generator per switch
        return (head,)
    return (head, *(name for name in extensions if name != head))


def _pooler_mode(settings_dict: dict[str, Any], alias: str) -> PoolerMode | None:
    mode = settings_dict.get(POOLER_KEY)
    if mode not in _POOLER_MODES:
        raise OmnitenantConfigurationError(
            f"DATABASES[{alias!r}][{POOLER_KEY!r}] is {mode!r}; use one of {_POOLER_MODES}."
        )
    if mode == "transaction":
        options = settings_dict.get("OPTIONS") or {}
        problems = []
        if not settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
            problems.append(
                "set DISABLE_SERVER_SIDE_CURSORS = True (a server-side cursor lives in one "
                "server session; .iterator() would read it on another)"
            )
        if options.get("prepare_threshold") is not None:
            problems.append(
                "remove OPTIONS['prepare_threshold'] (prepared statements are session state)"
            )
        if options.get("assume_role"):
            problems.append("remove OPTIONS['assume_role'] (SET ROLE is session state)")
        if problems:
            raise OmnitenantConfigurationError(
                f"DATABASES[{alias!r}] declares {POOLER_KEY} = 'transaction', where nothing "
                "survives a transaction: " + "; ".join(problems) + "."
            )
    return cast("PoolerMode | None", mode)


# (alias, database, extension schemas) already checked in this process.
_checked_extension_schemas: set[tuple[str, str, tuple[str, ...]]] = set()

_EXTENSION_SCHEMA_TABLES: Final = b"""
SELECT n.nspname || '.' || c.relname
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1
"""


def _check_extension_schemas(raw: Any, alias: str, schemas: tuple[str, ...]) -> None:
    """Refuse ``EXTENSION_SCHEMAS`` that hold relations of their own (once per process).

    Relations an extension owns (PostGIS's ``spatial_ref_sys``) are allowed; anything else
    would be found by an unqualified name that is missing from a tenant's schema.
    """
    key = (alias, str(raw.info.dbname), schemas)
    if key in _checked_extension_schemas:
        return
    tables = [str(row[0]) for row in raw.execute(_EXTENSION_SCHEMA_TABLES, [list(schemas)])]
    if raw.info.transaction_status != pq.TransactionStatus.IDLE:
        raw.rollback()
    if tables:
        raw.close()
        raise OmnitenantConfigurationError(
            "OMNITENANT_CONFIG['EXTENSION_SCHEMAS'] must name schemas that hold only "
            f"extensions, but these relations are no extension's: {', '.join(tables)}. "
            "Move them, or the schema out of EXTENSION_SCHEMAS."
        )
    _checked_extension_schemas.add(key)


def _read_only_in(state: ContextState, tenant_database: str | None) -> bool:
    """Whether this connection's statements in ``state`` must run read-only.

    ``tenant_database`` is the id of the tenant whose own database the connection is
    (``None`` for the master).
    """
    tenant = state.tenant
    if tenant is None or state.master or getattr(tenant, "is_read_only", False) is not True:
        return False
    if tenant_database is not None:
        return tenant_database == tenant.tenant_id
    return tenant.isolation_type == IsolationType.SCHEMA


def _prefixed(prefix: str, query: Any) -> Any:
    """``prefix; query`` in the type ``query`` came in."""
    if isinstance(query, str):
        return f"{prefix}; {query}"
    if isinstance(query, bytes):
        return prefix.encode() + b"; " + query
    return sql.SQL(f"{prefix}; ") + query


class _PathCursorMixin:
    """A psycopg cursor that sends its statement's path ahead of it when needed.

    ``_omnitenant`` is set by :meth:`DatabaseWrapper.create_cursor`; cursors psycopg or
    Django make on the raw connection for their own set-up have none and run unchanged.

    ``_omnitenant_raw`` is the raw connection the cursor was made on. When the wrapper has
    moved to another one since (connection affinity, or a new connection), the cursor is
    *stray*: what the wrapper knows is about another connection, so the statement carries
    its path for its own transaction only (``SET LOCAL``, as with transaction pooling)
    and changes nothing the engine knows.
    """

    _omnitenant: DatabaseWrapper | None = None
    _omnitenant_raw: Any = None
    _omnitenant_path: tuple[str, ...] = ()
    _omnitenant_read_only = False

    def executemany(self, query: Any, params_seq: Iterable[Any], **kwargs: Any) -> Any:
        run = super().executemany  # type: ignore[misc]  # psycopg's cursor comes after the mixin
        wrapper = self._omnitenant
        if wrapper is None:
            return run(query, params_seq, **kwargs)
        stray = self._omnitenant_raw is not wrapper.connection
        read_only = self._omnitenant_read_only
        if not stray and not wrapper.needs_path(self._omnitenant_path, read_only):
            return run(query, params_seq, **kwargs)
        return wrapper.run_after_path(
            self._omnitenant_path,
            lambda: run(query, params_seq, **kwargs),
            read_only=read_only,
            stray_on=self._omnitenant_raw if stray else None,
        )


class PathCursor(_PathCursorMixin, postgresql_base.Cursor):
    """Django's client-side-binding cursor (the default), path-aware.

    Its statements go out as simple queries, so the path goes in the same message, as a
    statement of its own in front (``SET search_path TO ...; <statement>``): one round
    trip, one implicit transaction (a failing statement takes the path change back with
    it). The cursor then moves past the ``SET`` results to the statement's own.
    """

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        wrapper = self._omnitenant
        if wrapper is None:
            return super().execute(query, params, **kwargs)  # type: ignore[misc]  # untyped psycopg base in django-stubs
        stray = self._omnitenant_raw is not wrapper.connection
        read_only = self._omnitenant_read_only
        wanted = self._omnitenant_path
        if not stray and not wrapper.needs_path(wanted, read_only):
            return super().execute(query, params, **kwargs)  # type: ignore[misc]  # untyped psycopg base in django-stubs
        prefix = wrapper.path_statement(wanted, read_only, stray=stray)
        super().execute(_prefixed(prefix, query), params, **kwargs)  # type: ignore[misc]  # untyped psycopg base in django-stubs
        # Past the SET results (two with read_only: the transaction's, then the path's).
        self.nextset()  # type: ignore[attr-defined]  # psycopg's, untyped in django-stubs
        if read_only:
            self.nextset()  # type: ignore[attr-defined]  # psycopg's, untyped in django-stubs
        if not stray:
            wrapper.omnitenant_search_path = wanted
        return self


class PathServerBindingCursor(_PathCursorMixin, postgresql_base.ServerBindingCursor):
    """Django's server-side-binding cursor (``OPTIONS["server_side_binding"]``), path-aware.

    Extended-protocol statements cannot share a message; the path and the statement go
    into one psycopg pipeline instead (still one round trip, and one Sync: one implicit
    transaction).
    """

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        wrapper = self._omnitenant
        if wrapper is None:
            return super().execute(query, params, **kwargs)  # type: ignore[misc]  # untyped psycopg base in django-stubs
        stray = self._omnitenant_raw is not wrapper.connection
        read_only = self._omnitenant_read_only
        wanted = self._omnitenant_path
        if not stray and not wrapper.needs_path(wanted, read_only):
            return super().execute(query, params, **kwargs)  # type: ignore[misc]  # untyped psycopg base in django-stubs
        raw = self.connection  # type: ignore[attr-defined]  # psycopg's, untyped in django-stubs
        prefix = wrapper.path_statement(wanted, read_only, pipeline=True, stray=stray).encode()
        with raw.pipeline():
            raw.execute(prefix)
            super().execute(query, params, **kwargs)  # type: ignore[misc]  # untyped psycopg base in django-stubs
        if not stray:
            wrapper.omnitenant_search_path = wanted
        return self


_PATH_CURSORS: Final[dict[Any, Any]] = {
    postgresql_base.Cursor: PathCursor,
    postgresql_base.ServerBindingCursor: PathServerBindingCursor,
}


class DatabaseWrapper(postgresql_base.DatabaseWrapper):
    """A PostgreSQL connection whose ``search_path`` follows :class:`TenantContext`."""

    SchemaEditorClass = DatabaseSchemaEditor

    def __init__(self, settings_dict: dict[str, Any], alias: str = "default") -> None:
        super().__init__(settings_dict, alias)
        # The path the server is known to have on this connection; None = unknown. In
        # transaction pooling it is only trusted inside the transaction that set it.
        self.omnitenant_search_path: tuple[str, ...] | None = None
        # Memo: the last context state seen and the path it maps to. States are
        # immutable and reused for a whole scope, so an identity check suffices; the
        # settings it was made with likewise (a change loads a new settings object).
        self._memo_state: ContextState | None = None
        self._memo_settings: BackendSettings | None = None
        self._memo_path: tuple[str, ...] = ()
        self._memo_read_only = False
        self._tenant_database_id: str | None = settings_dict.get(TENANT_DATABASE_FLAG) or None
        self._tenant_database = self._tenant_database_id is not None
        self.omnitenant_pooler: PoolerMode | None = _pooler_mode(settings_dict, alias)
        self._transaction_pooling = self.omnitenant_pooler == "transaction"
        # Django's pool, read once like the pooler (a request checks it twice).
        self._pooled = bool((settings_dict.get("OPTIONS") or {}).get("pool"))
        # Django's pool hands one server session from wrapper to wrapper; through a
        # transaction-mode pooler nothing survives, so there is nothing to hand on.
        self._hands_path_on = self._pooled and not self._transaction_pooling
        # True while Django runs its own savepoint statements: they need no tenant path,
        # and after an error the server refuses every statement but the rollback.
        self._path_suspended = False
        # Set by the master route while it takes a cursor on this connection.
        self.omnitenant_master_route = False
        # Connection affinity (see omnitenant_backends.postgresql.affinity): at most
        # _affinity connections, the current one and the parked ones.
        self._affinity_size = affinity_size(
            settings_dict, alias, transaction_pooling=self._transaction_pooling
        )
        self._affinity = self._affinity_size
        self._parked = ParkedConnections()
        # While above zero, statements stay on the current connection (omnitenant_pinned(),
        # and Django's connect() while affinity opens another).
        self._pins = 0

    def _wanted(self) -> tuple[str, ...]:
        """The path the current state needs; also refreshes ``_memo_read_only``."""
        state = TenantContext.get_state()
        conf = self._memo_settings
        if conf is None or backend_settings.loaded is not conf:
            conf = self._memo_settings = backend_settings()
            self._memo_state = None
        if state is not self._memo_state:
            self._memo_path = _path_in(state, conf, self._tenant_database, False)
            self._memo_read_only = _read_only_in(state, self._tenant_database_id)
            self._memo_state = state
        if self.omnitenant_master_route:
            return _path_in(state, conf, self._tenant_database, True)
        return self._memo_path

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        factory = params.get("cursor_factory")
        path_cursor = _PATH_CURSORS.get(factory)
        if path_cursor is None:
            raise OmnitenantConfigurationError(
                f"DATABASES[{self.alias!r}]['OPTIONS']['cursor_factory'] is {factory!r}; the "
                "omnitenant engine needs Django's own cursor classes to carry the tenant's "
                "search_path."
            )
        params["cursor_factory"] = path_cursor
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        self.omnitenant_search_path = None
        known: tuple[str, ...] | None = None
        if self._pooled or self.omnitenant_pooler is not None:
            # A pooled connection comes with whatever path its last user left, and a
            # pooler refuses the start-up options: the first statement carries the path.
            connection = super().get_new_connection(conn_params)
            if self._hands_path_on:
                # What the last wrapper that held this pooled connection knew (see _close).
                known = connection.__dict__.get(_POOLED_PATH)
        else:
            known = self._wanted()
            options = [conn_params.get("options", ""), f"-c search_path={','.join(known)}"]
            timezone = self.timezone_name
            if timezone and _SAFE_OPTION_VALUE.fullmatch(timezone):
                # Django would otherwise send set_config('TimeZone', ...) on every new
                # connection; in the start-up packet it costs no round trip.
                options.append(f"-c TimeZone={timezone}")
            connection = super().get_new_connection(
                {**conn_params, "options": " ".join(option for option in options if option)}
            )
        # The loaded settings without a call when there are some (the pool's checkout).
        extension_schemas = (backend_settings.loaded or backend_settings()).extension_schemas
        if extension_schemas:  # most projects have none: no call per connection
            _check_extension_schemas(connection, self.alias, extension_schemas)
        self.omnitenant_search_path = known
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        if self._path_suspended:
            return super().create_cursor(name)
        if (
            self.omnitenant_master_route
            or TenantContext.get_state() is not self._memo_state
            or backend_settings.loaded is not self._memo_settings
        ):
            wanted = self._wanted()
        else:
            # The warm path: the memo (path and read-only flag) was made for this state
            # and these settings.
            wanted = self._memo_path
        if self._affinity > 1 and wanted != self.omnitenant_search_path and not self._pins:
            self._follow_affinity(wanted)
        cursor = super().create_cursor(name)
        # The flag is read only for a read-only tenant: active ones pay nothing for it.
        read_only = self._memo_read_only and not writes_allowed_in_maintenance()
        if name:
            # A server-side cursor declares itself in its own statements: give the
            # connection its path first (a separate round trip, only when it differs).
            if wanted != self.omnitenant_search_path:
                self._set_search_path(wanted)
            if read_only and not self.connection.autocommit:
                # Only a transaction can be made read-only ahead of the DECLARE; in
                # autocommit the cursor is a SELECT of its own (DECLARE takes no other kind).
                self.connection.execute(_READ_ONLY_TRANSACTION)
            return cursor
        cursor._omnitenant = self
        cursor._omnitenant_raw = self.connection
        cursor._omnitenant_path = wanted
        if read_only:
            cursor._omnitenant_read_only = True
        return cursor

    def _follow_affinity(self, wanted: tuple[str, ...]) -> None:
        """Make current a connection already on ``wanted``, or one more if there is room.

        Only between transactions: a transaction belongs to its connection. Without one
        on ``wanted``: one whose path is unknown (rolled back), then a new one while there
        are fewer than ``k``, then the least recently used one; the statement's ``SET``
        moves it.
        """
        raw = self.connection
        if not self.autocommit or self.in_atomic_block or raw.pgconn.transaction_status != _IDLE:
            return
        current = self.omnitenant_search_path
        parked = self._parked
        target = parked.exchange(raw, current, wanted)
        if target is not None:  # the usual case once warm: three calls, no statement
            self.connection = target
            self.omnitenant_search_path = wanted
            return
        if current is None:  # nothing to keep: this connection takes the path, with a SET
            return
        target_path, target = None, parked.take(None)
        if target is None and len(parked) + 1 < self._affinity:
            self._open_another(raw, current)
            return
        if target is None:
            least_recent = parked.take_least_recent()
            if least_recent is None:  # all parked ones had died: this one follows
                return
            target_path, target = least_recent
        parked.park(raw, current)
        self.connection = target
        self.omnitenant_search_path = target_path

    @contextmanager
    def omnitenant_pinned(self) -> Iterator[None]:
        """Keep every statement of the block on the connection the wrapper has now.

        With connection affinity, code that relies on session state (a session advisory
        lock, ``SET`` without ``LOCAL``, a temporary table) wraps it in this block: the
        path then changes with a ``SET``, as without affinity. Without affinity it
        changes nothing.
        """
        self._pins += 1
        try:
            yield
        finally:
            self._pins -= 1

    def _open_another(self, raw: Any, current: tuple[str, ...]) -> None:
        """Park ``raw`` and connect anew, as Django connects (its signal included).

        The wrapper's age and health-check state stay those of the first connection: it
        is the wrapper Django closes, and with it every parked connection.
        """
        close_at = self.close_at
        health_check_done: bool = self.health_check_done  # type: ignore[has-type]  # set in Django's connect(), untyped in django-stubs
        if usable(raw):  # else it is dropped: the new connection replaces it
            self._parked.park(raw, current)
        else:
            raw.close()
        self._pins += 1
        try:
            self.connect()
        except Exception as error:
            if self.connection is not raw and self.connection is not None:
                self.connection.close()  # made, then refused by Django's set-up or a signal
            restored = self._parked.take(current)
            if restored is None:  # the one we had is gone too: a real failure
                self.connection = None
                self._parked.close_all()
                raise
            # No room on the server (max_connections, say) is no reason to fail the
            # request: it goes on on the connection it had, whose statement's SET moves
            # it, and this wrapper stops opening more until it is closed.
            self.connection = restored
            self.omnitenant_search_path = current
            self._affinity = len(self._parked) + 1
            logger.warning(
                "Connection affinity on %r: could not open connection %d of %d; going on "
                "with %d until this connection closes. %s: %s",
                self.alias,
                self._affinity + 1,
                self._affinity_size,
                self._affinity,
                type(error).__name__,
                # The first line; libpq's messages name the server, never a password.
                str(error).strip().partition("\n")[0],
            )
        finally:
            self._pins -= 1
            self.close_at, self.health_check_done = close_at, health_check_done

    def needs_path(self, wanted: tuple[str, ...], read_only: bool = False) -> bool:
        """Whether a statement that needs ``wanted`` must carry it (cheap: the warm path).

        A ``read_only`` statement always does: its transaction must be made read-only, and
        every statement may be the first of a new one.
        """
        if self._path_suspended:
            return False
        if wanted != self.omnitenant_search_path or read_only:
            return True
        # With transaction pooling a path lasts only as long as the transaction that set
        # it: outside one, every statement is a transaction of its own.
        return (
            self._transaction_pooling
            and self.connection.pgconn.transaction_status != _IN_TRANSACTION
        )

    def path_statement(
        self,
        wanted: tuple[str, ...],
        read_only: bool = False,
        *,
        pipeline: bool = False,
        stray: bool = False,
    ) -> str:
        """The statements setting ``wanted`` (and a read-only transaction when asked).

        ``SET`` statements for a simple query (:func:`~omnitenant_backends._sql.path_prefix`),
        one ``SELECT set_config(...)`` for a ``pipeline``. The path is unknown until it
        succeeded. For a ``stray`` cursor (see :class:`_PathCursorMixin`) the path is
        local to the statement's transaction, and the wrapper's knowledge stays.
        """
        if not read_only or wanted != self.omnitenant_search_path:
            emit("path_switch")  # not for a read-only tenant's statements that stay put
        if not stray:
            self.omnitenant_search_path = None
        local = self._transaction_pooling or stray
        if pipeline:
            return set_search_path_text(wanted, local=local, read_only=read_only)
        return path_prefix(wanted, local=local, read_only=read_only)

    def run_after_path(
        self,
        wanted: tuple[str, ...],
        run: Callable[[], Any],
        *,
        read_only: bool = False,
        stray_on: Any = None,
    ) -> Any:
        """Set ``wanted`` in a round trip of its own, then ``run`` (``executemany``).

        With transaction pooling, ``read_only`` or a stray cursor's connection
        (``stray_on``) and autocommit, both go into one explicit transaction: neither
        setting would outlive a transaction of its own.
        """
        stray = stray_on is not None
        raw = stray_on if stray else self.connection
        statement = self.path_statement(wanted, read_only, stray=stray).encode()
        # A simple query (no parameters, never prepared): it may hold two statements.
        if (self._transaction_pooling or read_only or stray) and raw.autocommit:
            with raw.transaction():
                raw.execute(statement, prepare=False)
                return run()
        raw.execute(statement, prepare=False)
        result = run()
        if not stray:
            self.omnitenant_search_path = wanted
        return result

    def _set_search_path(self, wanted: tuple[str, ...]) -> None:
        # Unknown until the server confirmed it: a failed SET leaves the path unknown.
        self.omnitenant_search_path = None
        # create_cursor() runs after ensure_connection(), so the connection exists.
        self.connection.execute(search_path_bytes(wanted))
        self.omnitenant_search_path = wanted
        emit("path_switch")

    def _rollback(self) -> None:
        self.omnitenant_search_path = None
        super()._rollback()  # type: ignore[misc]  # private hook, not in django-stubs

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # private hook, not in django-stubs
        except BaseException:
            # A COMMIT that fails (a deferred constraint, a serialization failure) ends
            # the transaction with a rollback on the server, which undoes a SET issued
            # inside it: the path is unknown again.
            self.omnitenant_search_path = None
            raise

    def _savepoint(self, sid: str) -> None:
        self._path_suspended = True
        try:
            super()._savepoint(sid)  # type: ignore[misc]  # private hook, not in django-stubs
        finally:
            self._path_suspended = False

    def _savepoint_commit(self, sid: str) -> None:
        self._path_suspended = True
        try:
            super()._savepoint_commit(sid)  # type: ignore[misc]  # private hook, not in django-stubs
        finally:
            self._path_suspended = False

    def _savepoint_rollback(self, sid: str) -> None:
        # A SET issued after the savepoint is undone by the server: forget the path.
        self.omnitenant_search_path = None
        self._path_suspended = True
        try:
            super()._savepoint_rollback(sid)  # type: ignore[misc]  # private hook, not in django-stubs
        finally:
            self._path_suspended = False

    def _close(self) -> None:
        raw = self.connection
        if raw is not None and self._hands_path_on:
            # Back to Django's pool: leave what we know on the connection, for its next
            # user. Only outside a transaction: the pool rolls an open one back, and a
            # path set inside it with it. The libpq connection's own status (unknown once
            # closed): no ConnectionInfo built per request.
            idle = raw.pgconn.transaction_status == _IDLE
            raw.__dict__[_POOLED_PATH] = self.omnitenant_search_path if idle else None
        self.omnitenant_search_path = None
        if self._affinity_size > 1:
            self._parked.close_all()
            self._affinity = self._affinity_size
        super()._close()  # type: ignore[misc]  # private hook, not in django-stubs
