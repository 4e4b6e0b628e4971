"""Django's PostgreSQL backend, made to follow the tenant context.

The connection sets ``search_path`` when a cursor is taken and only when the path the
context wants differs from the path the connection is known to have: a warm request that
stays in one tenant sends no extra statement at all, and a switch costs one ``SET``.

What the wrapper knows about the path is forgotten whenever PostgreSQL may have changed it
behind our back: on a new connection (a pooled one may come with any path), on rollback,
savepoint rollback and failed commit (a ``SET`` issued inside the rolled-back transaction is
undone by the server), and on close. Forgetting only costs one ``SET`` on the next cursor.

A brand-new, unpooled connection receives its initial path in the connection's start-up
options, which costs no round trip at all: with Django's default ``CONN_MAX_AGE = 0`` every
request opens a fresh connection, already in the right tenant.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.backends.postgresql import base as postgresql_base

from omnitenant_backends._scope import is_schema_exclusive
from omnitenant_backends._sql import search_path_bytes
from omnitenant_backends.conf import backend_settings
from omnitenant_backends.postgresql.schema import DatabaseSchemaEditor
from omnitenant_context import ContextState, IsolationType, TenantContext

__all__ = ["DatabaseWrapper", "wanted_search_path"]

# What may go into a libpq "-c name=value" option unescaped (time zone names do).
_SAFE_OPTION_VALUE = re.compile(r"[A-Za-z0-9_/+\-]+")

#: Key in a connection's settings dict that marks a tenant's own database: its
#: connections never switch to a tenant schema, only to an explicit ``use_schema``.
TENANT_DATABASE_FLAG = "OMNITENANT_TENANT_DATABASE"


def wanted_search_path(
    state: ContextState, *, tenant_database: bool, exclusive: bool = False
) -> tuple[str, ...]:
    """The ``search_path`` a connection should have in ``state``.

    The shared (public) schema comes last, so master tables such as tenants and domains
    stay readable inside a tenant while the tenant's own tables win. With ``exclusive``
    (see :func:`omnitenant_backends.exclusive_schema`) the shared schema is left out.
    """
    public = backend_settings().public_schema
    schema = state.schema
    if schema is None:
        tenant = state.tenant
        if (
            tenant is not None
            and not state.master
            and not tenant_database
            and tenant.isolation_type == IsolationType.SCHEMA
        ):
            schema = tenant.schema_name
    if schema is None or schema == public:
        return (public,)
    return (schema,) if exclusive else (schema, public)


class DatabaseWrapper(postgresql_base.DatabaseWrapper):
    """A PostgreSQL connection whose ``search_path`` follows :class:`TenantContext`."""

    SchemaEditorClass = DatabaseSchemaEditor

    def __init__(self, settings_dict: dict[str, Any], alias: str = "default") -> None:
        super().__init__(settings_dict, alias)
        # The path the server is known to have on this connection; None = unknown.
        self.omnitenant_search_path: tuple[str, ...] | None = None
        # Memo: the last context state seen and the path it maps to. States are
        # immutable and reused for a whole scope, so an identity check suffices.
        self._memo_state: ContextState | None = None
        self._memo_exclusive = False
        self._memo_path: tuple[str, ...] = ()
        self._tenant_database = bool(settings_dict.get(TENANT_DATABASE_FLAG))
        # True while Django runs its own savepoint statements: they need no tenant path,
        # and after an error the server refuses every statement but the rollback.
        self._path_suspended = False

    def _wanted(self) -> tuple[str, ...]:
        state = TenantContext.get_state()
        exclusive = is_schema_exclusive()
        if state is not self._memo_state or exclusive is not self._memo_exclusive:
            self._memo_path = wanted_search_path(
                state, tenant_database=self._tenant_database, exclusive=exclusive
            )
            self._memo_state = state
            self._memo_exclusive = exclusive
        return self._memo_path

    def _uses_pool(self) -> bool:
        return bool(self.settings_dict["OPTIONS"].get("pool"))

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        self.omnitenant_search_path = None
        if self._uses_pool():
            # A pooled connection comes with whatever path its last user left.
            return super().get_new_connection(conn_params)
        wanted = self._wanted()
        options = [conn_params.get("options", ""), f"-c search_path={','.join(wanted)}"]
        timezone = self.timezone_name
        if timezone and _SAFE_OPTION_VALUE.fullmatch(timezone):
            # Django would otherwise send set_config('TimeZone', ...) on every new
            # connection; in the start-up packet it costs no round trip.
            options.append(f"-c TimeZone={timezone}")
        connection = super().get_new_connection(
            {**conn_params, "options": " ".join(option for option in options if option)}
        )
        self.omnitenant_search_path = wanted
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        if not self._path_suspended:
            wanted = self._wanted()
            if wanted != self.omnitenant_search_path:
                self._set_search_path(wanted)
        return super().create_cursor(name)

    def _set_search_path(self, wanted: tuple[str, ...]) -> None:
        # Unknown until the server confirmed it: a failed SET leaves the path unknown.
        self.omnitenant_search_path = None
        # create_cursor() runs after ensure_connection(), so the connection exists.
        self.connection.execute(search_path_bytes(wanted))
        self.omnitenant_search_path = wanted

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
        self.omnitenant_search_path = None
        super()._close()  # type: ignore[misc]  # private hook, not in django-stubs
