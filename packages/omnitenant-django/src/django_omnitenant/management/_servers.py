"""Tenants migrated in parallel across database servers, a bounded number per server.

``migratealltenants --jobs N`` runs N worker processes. Migrations load the server they
run on (DDL takes locks, ``CREATE INDEX`` reads the table, every statement is a round
trip): with tenants on several servers, N workers should be spread over them, and no
server should get more than it can take. :func:`server_key` names the server a tenant's
migration runs on; :func:`run_per_server` hands tenants to the workers so that at most
``per_server`` run at once on one server, taking the servers in turn.
"""

from __future__ import annotations

import queue
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.conf import settings

from omnitenant_backends import tenant_database_settings
from omnitenant_backends.placement import UnknownServer, tenant_server
from omnitenant_context import IsolationType

__all__ = ["run_per_server", "server_key"]

_POSTGRES_PORT = "5432"


def server_key(tenant: Any) -> str:
    """The server a tenant's migration runs on: ``HOST:PORT`` of its connection settings.

    A database tenant's own settings; a schema tenant's are those of the ``DATABASES``
    alias it is placed on (docs/scaling.md; the master by default). All SQLite files are
    one "server" (the local disk). A schema tenant placed on an alias that no longer
    exists gets a key of its own: its migration fails and says why.
    """
    if tenant.isolation_type == IsolationType.DATABASE:
        entry = tenant_database_settings(tenant)
    else:
        try:
            entry = settings.DATABASES[tenant_server(tenant)]
        except UnknownServer:
            return f"unknown server {tenant.server!r}"
    return settings_server_key(entry)


def settings_server_key(entry: dict[str, Any]) -> str:
    """``HOST:PORT`` of a ``DATABASES`` entry (``sqlite`` for every SQLite file)."""
    engine = str(entry.get("ENGINE", ""))
    if engine.endswith("sqlite3"):
        return "sqlite"
    host = str(entry.get("HOST") or "localhost")
    default_port = _POSTGRES_PORT if "postgresql" in engine else ""
    return f"{host}:{entry.get('PORT') or default_port}"


def run_per_server(
    pool: Any,
    work: Callable[[Any], Any],
    tasks: Sequence[tuple[str, Any]],
    *,
    jobs: int,
    per_server: int | None,
) -> Iterator[Any]:
    """Run ``work(argument)`` in ``pool`` for each ``(server, argument)``; yield results as
    they come.

    At most ``jobs`` run at once, and at most ``per_server`` of one server (``None``: no
    limit but ``jobs``). Servers are taken in turn, so a long queue on one server does
    not keep the others waiting; within a server the order of ``tasks`` is kept.
    """
    limit = per_server or jobs
    waiting: dict[str, deque[Any]] = {}
    for server, argument in tasks:
        waiting.setdefault(server, deque()).append(argument)
    turn = deque(waiting)
    running: Counter[str] = Counter()
    finished: queue.SimpleQueue[tuple[str, Any, bool]] = queue.SimpleQueue()
    in_flight = 0

    def start(server: str) -> None:
        argument = waiting[server].popleft()
        running[server] += 1
        pool.apply_async(
            work,
            (argument,),
            callback=lambda result: finished.put((server, result, True)),
            error_callback=lambda error: finished.put((server, error, False)),
        )

    while turn or in_flight:
        # Start as much as the limits allow, one server after the other.
        blocked = 0
        while turn and in_flight < jobs and blocked < len(turn):
            server = turn[0]
            turn.rotate(-1)
            if running[server] >= limit:
                blocked += 1
                continue
            blocked = 0
            start(server)
            in_flight += 1
            if not waiting[server]:
                turn.remove(server)
        server, result, ok = finished.get()
        running[server] -= 1
        in_flight -= 1
        if not ok:
            raise result  # a worker died or could not be reached: not a tenant's failure
        yield result
