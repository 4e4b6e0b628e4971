"""One variant in its own process: ``python -m reqbench.worker VARIANT``.

Django's settings are process-global, so each variant runs in a worker of its own with its
own settings module. The worker reads one JSON command per line on stdin and answers one
JSON line on stdout (anything else the process prints goes to stderr):

* ``{"cmd": "grow", "tenants": N}``: create the database(s) once, then tenants up to N;
* ``{"cmd": "mode", "conn_max_age": 0 | null, "topology": "direct"}``: close every
  connection and set ``CONN_MAX_AGE`` on every connection's settings (master and tenant
  aliases); ``topology`` ``"pool"`` gives the master Django's psycopg pool,
  ``"pgbouncer"`` sends it through the PgBouncer on ``BENCH_PGBOUNCER_PORT`` (transaction
  mode, declared to omnitenant, server-side cursors off, no start-up options);
  ``"affinity"`` gives omnitenant's master connection affinity, a connection per tenant
  and one for the master (plain Django's engine ignores the key);
* ``{"cmd": "warm", "requests": M, "every_tenant": true, "run_length": 1}``: one request
  to each tenant (checking each answer is that tenant's rows), then M more round-robin;
  answers how long those M took per request;
* ``{"cmd": "round", "requests": M, "run_length": 1}``: M requests, round-robin over all
  tenants (``run_length`` in a row to each), timed (the round, and each request), with
  the statements they sent and the connections they opened;
* ``{"cmd": "collect"}``: a full garbage collection (which ``round`` starts with, unless
  given ``"collect": false``);
* ``{"cmd": "close"}``: close every connection (so the server flushes its statistics);
* ``{"cmd": "profile", "requests": M, "sort": "cumulative", "run_length": 1}``: M
  requests under cProfile;
* ``{"cmd": "micro"}``: the pieces of omnitenant's request path, timed one by one;
* ``{"cmd": "quit"}``.

Requests go through Django's ``WSGIHandler`` with a prepared WSGI environ: the whole
middleware stack, the URL resolver, the view, ``request_started`` / ``request_finished``
(which close connections when ``CONN_MAX_AGE`` says so), and no HTTP server.
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import os
import pstats
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

from reqbench import counting
from reqbench.variants import VARIANTS, Variant, host


def _protocol_stream() -> TextIO:
    """The real stdout for answers; print() and friends are sent to stderr."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return answers


class Driver:
    """Calls the WSGI application the way a server would, round-robin over hosts."""

    def __init__(self, variant: Variant) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.variant = variant
        self.app = WSGIHandler()
        self.environs: list[dict[str, Any]] = []
        self.next = 0
        self.status = ""

    def add_hosts(self, count: int) -> None:
        for index in range(len(self.environs) + 1, count + 1):
            name = host(index)
            self.environs.append(
                {
                    "REQUEST_METHOD": "GET",
                    "SCRIPT_NAME": "",
                    "PATH_INFO": "/notes/",
                    "QUERY_STRING": "",
                    "SERVER_NAME": name,
                    "SERVER_PORT": "80",
                    "SERVER_PROTOCOL": "HTTP/1.1",
                    "REMOTE_ADDR": "127.0.0.1",
                    "HTTP_HOST": name,
                    "wsgi.version": (1, 0),
                    "wsgi.url_scheme": "http",
                    "wsgi.errors": sys.stderr,
                    "wsgi.multithread": False,
                    "wsgi.multiprocess": False,
                    "wsgi.run_once": False,
                }
            )

    def _start_response(self, status: str, headers: Any, exc_info: Any = None) -> None:
        self.status = status

    def call(self, index: int) -> bytes:
        environ = self.environs[index].copy()
        environ["wsgi.input"] = io.BytesIO()
        result = self.app(environ, self._start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()  # request_finished: Django closes connections here
        return body

    def checked(self, index: int) -> None:
        """One request to tenant ``index`` (0-based), checking it saw its own rows."""
        body = self.call(index)
        expected = self.variant.expected_title(index + 1)
        if not self.status.startswith("200"):
            raise RuntimeError(f"{host(index + 1)} answered {self.status}: {body[:300]!r}")
        first = json.loads(body)["notes"][0]["title"]
        if first != expected:
            raise RuntimeError(f"{host(index + 1)} served {first!r}, expected {expected!r}")

    def run(self, count: int, durations: list[int] | None = None, run_length: int = 1) -> None:
        """``count`` requests, round-robin over the tenants; each must answer 200.

        ``run_length`` requests go to a tenant before the next one's turn (1: every
        request changes tenant). With ``durations``, each request's time (ns) is
        appended to it.
        """
        call, size = self.call, len(self.environs)
        clock = time.perf_counter_ns
        position = self.next % size
        failures = 0
        for number in range(count):
            if durations is None:
                call(position)
            else:
                started = clock()
                call(position)
                durations.append(clock() - started)
            if self.status[0] != "2":
                failures += 1
            if (number + 1) % run_length == 0:
                position += 1
                if position == size:
                    position = 0
        self.next = position
        if failures:
            raise RuntimeError(f"{failures} of {count} requests failed (last: {self.status})")


class Worker:
    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self.driver = Driver(variant)

    def grow(self, tenants: int) -> dict[str, Any]:
        timing = self.variant.grow(tenants)
        self.driver.add_hosts(tenants)
        return timing

    def mode(self, conn_max_age: int | None, topology: str = "direct") -> dict[str, Any]:
        from django.db import connections

        # Close the pool first: Django finds a wrapper's pool through its settings, and
        # once they say "no pool" (or "persistent") the open one would be left behind,
        # with its server sessions.
        wrapper = connections["default"]
        if getattr(wrapper, "pool", None) is not None:
            wrapper.close_pool()
        connections.close_all()
        for entry in connections.settings.values():
            entry["CONN_MAX_AGE"] = conn_max_age
        self._topology(topology)
        try:
            from omnitenant_backends import database
            from omnitenant_backends.conf import backend_settings
        except ImportError:
            pass
        else:
            # Tenant aliases built from now on inherit it too, and so do those built
            # already (only the ones a thread holds are in connections.settings).
            defaults = backend_settings().database_defaults
            if isinstance(defaults, dict) and defaults:
                defaults["CONN_MAX_AGE"] = conn_max_age
            for entry in database._registered.values():
                entry["CONN_MAX_AGE"] = conn_max_age
        return {"conn_max_age": conn_max_age}

    def _topology(self, topology: str) -> None:
        from django.db import connections

        master = connections.settings["default"]
        if not hasattr(self, "_direct"):
            self._direct = {key: master.get(key) for key in _TOPOLOGY_KEYS}
        for key, value in self._direct.items():
            if value is None:
                master.pop(key, None)
            else:
                master[key] = value
        master["OPTIONS"] = dict(self._direct["OPTIONS"] or {})
        if topology == "pool":
            master["OPTIONS"]["pool"] = {"min_size": 1, "max_size": 2}
        elif topology == "pgbouncer":
            master["PORT"] = int(os.environ["BENCH_PGBOUNCER_PORT"])
            master["OPTIONS"].pop("options", None)  # PgBouncer refuses start-up options
            master["DISABLE_SERVER_SIDE_CURSORS"] = True
            master["OMNITENANT_POOLER"] = "transaction"
        elif topology == "affinity":
            # A connection per tenant and one for the master: every switch finds its own.
            # (Plain Django's engine ignores the key: its row is the direct one.)
            master["OMNITENANT_AFFINITY"] = len(self.driver.environs) + 1
        elif topology != "direct":
            raise ValueError(f"unknown topology {topology!r}")
        # The wrapper reads its settings when it is made: make it again.
        del connections["default"]

    def warm(self, requests: int, every_tenant: bool = True, run_length: int = 1) -> dict[str, Any]:
        started = time.perf_counter()
        for index in range(len(self.driver.environs) if every_tenant else 0):
            self.driver.checked(index)
        settled = time.perf_counter()
        self.driver.run(requests, run_length=run_length)
        finished = time.perf_counter()
        counting.reset()
        return {
            "seconds": finished - started,
            "seconds_per_request": (finished - settled) / max(requests, 1),
        }

    def collect(self) -> dict[str, Any]:
        """A full garbage collection, now (``bench:instructions``, outside the counting)."""
        gc.collect()
        return {}

    def round(self, requests: int, run_length: int = 1, collect: bool = True) -> dict[str, Any]:
        if collect:
            gc.collect()
        counting.reset()
        durations: list[int] = []
        cpu_started = time.process_time_ns()
        started = time.perf_counter_ns()
        self.driver.run(requests, durations, run_length)
        elapsed = time.perf_counter_ns() - started
        cpu = time.process_time_ns() - cpu_started
        return {
            "ns": elapsed,
            "cpu_ns": cpu,
            "requests": requests,
            "request_us": [round(ns / 1000, 1) for ns in durations],
            "statements": dict(counting.take()),
            "connections": counting.take_connections(),
        }

    def close(self) -> dict[str, Any]:
        from django.db import connections

        connections.close_all()
        return {}

    def micro(self) -> dict[str, Any]:
        from reqbench.micro import breakdown

        return {"lines": breakdown(self.driver)}

    def profile(
        self, requests: int, sort: str = "cumulative", limit: int = 40, run_length: int = 1
    ) -> dict[str, Any]:
        profiler = cProfile.Profile()
        profiler.enable()
        self.driver.run(requests, run_length=run_length)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(sort).print_stats(limit)
        counting.reset()
        return {"report": out.getvalue()}


_TOPOLOGY_KEYS = (
    "PORT",
    "OPTIONS",
    "DISABLE_SERVER_SIDE_CURSORS",
    "OMNITENANT_POOLER",
    "OMNITENANT_AFFINITY",
)


def main() -> None:
    key = sys.argv[1]
    variant_class = VARIANTS[key]
    os.environ["DJANGO_SETTINGS_MODULE"] = f"reqbench.settings.{variant_class.settings}"
    answers = _protocol_stream()
    counting.install()

    import django

    django.setup()
    worker = Worker(variant_class())
    commands: dict[str, Callable[..., dict[str, Any]]] = {
        "grow": worker.grow,
        "mode": worker.mode,
        "warm": worker.warm,
        "round": worker.round,
        "collect": worker.collect,
        "close": worker.close,
        "profile": worker.profile,
        "micro": worker.micro,
    }
    answers.write(json.dumps({"ready": key, "pid": os.getpid()}) + "\n")
    for line in sys.stdin:
        message = json.loads(line)
        command = message.pop("cmd")
        if command == "quit":
            try:
                worker.variant.teardown()
            finally:
                answers.write(json.dumps({"ok": True}) + "\n")
            break
        try:
            reply = {"ok": True, **commands[command](**message)}
        except Exception:
            reply = {"ok": False, "error": traceback.format_exc()}
        answers.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
