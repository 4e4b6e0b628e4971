"""Benchmark: creating schema tenants by migrating vs by cloning the template; switch cost.

Measures the seconds per tenant that ``SchemaTenantBackend.create(run_migrations=True)``
takes when it runs every migration (``CLONE_SCHEMA_TEMPLATE=False``) and when it copies
the migrated template schema (the default), for batches of 1 and of 20 tenants, and the
statements the PostgreSQL engine sends when a connection moves between tenants, counted in
libpq's protocol trace (every message that reaches the server's socket). Prints markdown.

    DJANGO_SETTINGS_MODULE=tests.settings python bench/provisioning.py [--rounds 3]

Runs in a scratch database of its own, ``omnitenant_bench_provisioning_<pid>``, on the
server of ``tests.settings``: created (and its master schema migrated) at the start,
dropped at the end, also after an error.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test project (tests.settings) lives at the root
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402 - the path above must be in place first

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import override_settings  # noqa: E402
from psycopg import sql  # noqa: E402

from django_omnitenant.utils import get_tenant_backend, get_tenant_model  # noqa: E402
from omnitenant_backends import migrate_schema_template  # noqa: E402
from omnitenant_backends.conf import backend_settings  # noqa: E402
from omnitenant_context import TenantContext  # noqa: E402
from tests.backends.test_search_path import WireTrace  # noqa: E402 - the tests' own counter
from tests.tenantapp.models import Note  # noqa: E402

BATCHES = (1, 20)


def config(**changes: Any) -> override_settings:
    return override_settings(OMNITENANT_CONFIG={**settings.OMNITENANT_CONFIG, **changes})


def execute(query: sql.Composable | str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(query)
        return list(cursor.fetchall()) if cursor.description else []


def drop_schema(name: str) -> None:
    execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def migration_rows(schema: str) -> list[tuple[Any, ...]]:
    return execute(
        sql.SQL("SELECT app, name, applied FROM {} ORDER BY id").format(
            sql.Identifier(schema, "django_migrations")
        )
    )


def create_batch(prefix: str, count: int) -> tuple[float, list[Any]]:
    """Create ``count`` tenants the programmatic way; seconds per tenant, and the tenants."""
    tenant_model = get_tenant_model()
    tenants = []
    start = time.perf_counter()
    for index in range(count):
        tenant = tenant_model.objects.create(tenant_id=f"{prefix}_{index}", name=prefix)
        get_tenant_backend(tenant).create(run_migrations=True)
        tenants.append(tenant)
    return (time.perf_counter() - start) / count, tenants


def drop_batch(tenants: list[Any]) -> None:
    # Straight DROP SCHEMA: the backend's delete() logs a warning per tenant, which would
    # drown the one warning that matters here (a clone that fell back to migrating).
    for tenant in tenants:
        drop_schema(tenant.schema_name)
        tenant.delete()


def time_creation(path: str, rounds: int) -> dict[int, float]:
    """Median seconds per tenant for each batch size, on one creation path."""
    results: dict[int, float] = {}
    for count in BATCHES:
        samples = []
        for round_number in range(rounds):
            seconds, tenants = create_batch(f"bench_{path}_{count}_{round_number}", count)
            if path == "clone":
                # Numbers for a clone that silently fell back to migrating would lie.
                template = backend_settings().schema_template
                assert template is not None
                if migration_rows(tenants[0].schema_name) != migration_rows(template):
                    raise SystemExit("the clone path migrated instead: see the warning above")
            drop_batch(tenants)
            samples.append(seconds)
        results[count] = statistics.median(samples)
    return results


@contextmanager
def wire_trace() -> Iterator[WireTrace]:
    """libpq's protocol trace on the default connection and on every one it opens."""
    with tempfile.TemporaryDirectory() as directory:
        trace = WireTrace(Path(directory))
        wrapper = connections["default"]
        open_connection: Callable[[dict[str, Any]], Any] = wrapper.get_new_connection

        def traced_connection(conn_params: dict[str, Any]) -> Any:
            raw = open_connection(conn_params)
            trace.attach(raw)
            return raw

        setattr(wrapper, "get_new_connection", traced_connection)  # noqa: B010 - an instance override
        try:
            wrapper.ensure_connection()
            trace.attach(wrapper.connection)
            yield trace
        finally:
            delattr(wrapper, "get_new_connection")
            trace.close()


def count_statements(trace: WireTrace, action: Callable[[], object]) -> tuple[int, int]:
    since = trace.mark()
    action()
    return len(trace.statements(since)), len(trace.sets(since))


def switch_costs() -> list[tuple[str, int, int]]:
    """(situation, statements sent, of which SET search_path) for typical requests."""
    tenants = []
    for tenant_id in ("bench_switch_a", "bench_switch_b"):
        tenant = get_tenant_model().objects.create(tenant_id=tenant_id, name=tenant_id)
        get_tenant_backend(tenant).create(run_migrations=True)
        tenants.append(tenant)
    alpha, beta = tenants
    rows: list[tuple[str, int, int]] = []

    def query_in(tenant: Any, times: int = 1) -> Callable[[], None]:
        def run() -> None:
            with TenantContext.use_tenant(tenant):
                for _ in range(times):
                    Note.objects.count()

        return run

    try:
        with wire_trace() as trace:
            connection.close()
            rows.append(
                (
                    "first query on a new connection (tenant A)",
                    *count_statements(trace, query_in(alpha)),
                )
            )
            rows.append(
                ("100 more queries in tenant A", *count_statements(trace, query_in(alpha, 100)))
            )
            rows.append(("1 query after switching A → B", *count_statements(trace, query_in(beta))))
            rows.append(
                ("1 query after switching B → A", *count_statements(trace, query_in(alpha)))
            )

            def master_inside_tenant() -> None:
                with TenantContext.use_tenant(alpha), TenantContext.use_master_db():
                    get_tenant_model().objects.count()

            rows.append(
                ("1 master query inside tenant A", *count_statements(trace, master_inside_tenant))
            )
    finally:
        drop_batch(tenants)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per batch; the median counts")
    args = parser.parse_args()

    creation = connection.creation
    connection.settings_dict["TEST"] = {
        **connection.settings_dict.get("TEST", {}),
        "NAME": f"omnitenant_bench_provisioning_{os.getpid()}",
    }
    original_name = creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        template = backend_settings().schema_template
        assert template is not None, "the bench needs SCHEMA_TEMPLATE (the default)"
        with config(CLONE_SCHEMA_TEMPLATE=False):
            migrated = time_creation("migrate", args.rounds)
        drop_schema(template)
        start = time.perf_counter()
        migrate_schema_template()
        template_seconds = time.perf_counter() - start
        migrations = len(migration_rows(template))
        cloned = time_creation("clone", args.rounds)
        switches = switch_costs()
    finally:
        connection.close()
        creation.destroy_test_db(original_name, verbosity=0)

    print(f"Schema tenant creation ({migrations} migrations; median of {args.rounds} runs)\n")
    print("| tenants created | migrations: s / tenant | clone: s / tenant | speed-up |")
    print("|---:|---:|---:|---:|")
    for count in BATCHES:
        speed_up = migrated[count] / cloned[count]
        print(f"| {count} | {migrated[count]:.3f} | {cloned[count]:.3f} | {speed_up:.1f}x |")
    print(
        "\nMaking the template from nothing (once, or after new migrations): "
        f"{template_seconds:.3f} s\n"
    )
    print("Statements sent to the server (libpq protocol trace)\n")
    print("| situation | statements | of which SET search_path |")
    print("|---|---:|---:|")
    for situation, statements, sets in switches:
        print(f"| {situation} | {statements} | {sets} |")
    print(
        "\nA new connection also sends Django's own time zone set-up when the server's "
        "TimeZone differs from settings.TIME_ZONE; search_path travels in the start-up packet."
    )


if __name__ == "__main__":
    main()
