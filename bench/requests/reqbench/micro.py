"""The pieces of omnitenant's request path, each timed alone (``run.py --micro``).

A profiler slows small functions down unevenly; timing each piece on its own, warm, many
times over (best of five), says how many microseconds it adds to a request. Next to
them: one round trip to the server, and a whole warm request of this variant.
"""

from __future__ import annotations

import io
import timeit
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reqbench.worker import Driver

Lines = list[tuple[str, float]]


def _best_us(function: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def _timer(lines: Lines) -> Callable[..., None]:
    def time_it(label: str, function: Callable[[], object], number: int = 5000) -> None:
        lines.append((label, _best_us(function, number)))

    return time_it


def breakdown(driver: Driver) -> Lines:
    """``(what, µs)`` for each piece; the variant must be warm (after ``warm``)."""
    from django.apps import apps
    from django.core import signals
    from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
    from django.db import connections

    lines: Lines = []
    time_it = _timer(lines)
    environ = dict(driver.environs[0])
    environ["wsgi.input"] = io.BytesIO()
    request = WSGIRequest(environ)
    time_it("whole request, same tenant again (persistent)", lambda: driver.call(0), 300)
    time_it("Django: request.get_host()", request.get_host)

    def request_signals() -> None:
        signals.request_started.send(sender=WSGIHandler, environ=environ)
        signals.request_finished.send(sender=WSGIHandler)

    time_it(
        f"Django: request_started + request_finished, {len(connections.settings)} aliases",
        request_signals,
        1000,
    )
    if apps.is_installed("django_omnitenant"):
        tenant = _resolution(request, time_it)
        _engine(tenant, time_it)
    else:
        connection = connections["default"]
        connection.ensure_connection()
        raw = connection.connection
        time_it("server: one round trip (SELECT 1)", lambda: raw.execute(b"SELECT 1"), 1000)
    return lines


def _resolution(request: Any, time_it: Callable[..., None]) -> Any:
    """The middleware's work before the view: host, cached lookup, context."""
    from django.core.cache import caches

    from django_omnitenant.conf import app_settings
    from django_omnitenant.middleware import TenantMiddleware
    from django_omnitenant.stores import VERSION_KEY, get_tenant_store
    from omnitenant_context import TenantContext
    from omnitenant_resolvers import normalize_host

    middleware = TenantMiddleware(lambda request: None)
    _, resolver = middleware._configure()
    store = get_tenant_store()
    host = normalize_host(request.get_host())
    tenant = store.get_by_domain(host)
    assert tenant is not None
    cache = caches[app_settings().tenant_cache_alias]

    def version() -> Any:
        with TenantContext.use_master_db():
            return cache.get(VERSION_KEY, 0)

    def enter_and_leave() -> None:
        with TenantContext.use_tenant(tenant):
            pass

    time_it("middleware: TenantMiddleware._resolve(request)", lambda: middleware._resolve(request))
    time_it("  resolver.resolve(request)", lambda: resolver.resolve(request))
    time_it("    normalize_host(host), not cached", lambda: normalize_host(host))
    time_it("    store.get_by_domain(host), warm", lambda: store.get_by_domain(host))
    time_it(f"      version check: {type(cache).__name__}.get(version key)", version)
    time_it("context: TenantContext.use_tenant(), enter and leave", enter_and_leave)
    return tenant


def _engine(tenant: Any, time_it: Callable[..., None]) -> None:
    """The engine's work when a cursor is taken, and the SET it sends on a switch."""
    from django.db import connections

    from django_omnitenant.conf import backend_settings
    from omnitenant_backends._sql import search_path_sql
    from omnitenant_context import TenantContext

    alias = "default"
    if tenant.isolation_type == "database":
        from omnitenant_backends import tenant_database_alias

        alias = tenant_database_alias(tenant)
        time_it("router: tenant_database_alias(tenant)", lambda: tenant_database_alias(tenant))
        # Django walks every registered alias in each request: request_started and
        # request_finished (close_old_connections, reset_queries) and the handler's
        # make_view_atomic; every tenant alias stays registered.
        count = len(connections.settings)
        time_it(
            f"Django: connections.all(initialized_only=True), {count} aliases",
            lambda: connections.all(initialized_only=True),
            200,
        )
        time_it(f"Django: connections.all(), {count} aliases", connections.all, 200)
    connection = connections[alias]
    connection.ensure_connection()
    raw = connection.connection
    if hasattr(connection, "_wanted"):

        def wanted() -> None:
            with TenantContext.use_tenant(tenant):
                connection._wanted()

        path = (tenant.schema_name, backend_settings().public_schema)
        statement = search_path_sql(path)
        time_it("engine: use_tenant() + connection._wanted()", wanted)
        time_it("engine: search_path_sql(path)", lambda: search_path_sql(path))
        time_it("psycopg: render that SET (Composed) to bytes", lambda: statement.as_bytes(raw))
        time_it("server: SET search_path round trip", lambda: raw.execute(statement), 1000)
    if connection.vendor == "postgresql":
        time_it("server: one round trip (SELECT 1)", lambda: raw.execute(b"SELECT 1"), 1000)
