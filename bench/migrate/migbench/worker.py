"""One step of the migrate benchmark, in a process of its own: ``python -m migbench.worker``.

    setup   --tool omni|dt --tenants N   the master schema and N tenants, by the tool's API
            [--api-tenants M]            (omni: M by the API, the rest bulk copies of t0001)
    migrate --variant KEY [--rollback]    the variant's fleet command, once, timed (with
                                          --rollback: back to notes 0001); peak memory
    check                                 how many schemas have the release applied
    profile --variant KEY --sort tottime  the fleet command under cProfile

``DJANGO_SETTINGS_MODULE`` (``migbench.settings.omni`` / ``.dt``) and ``BENCH_MIGRATE_DB``
come from ``run.py``. What a step measured goes to the JSON file ``--result``; the
commands' own output goes to this process's stdout (``run.py`` sends it to a log file).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import django

#: The variants: tool, label, and the command with its options (as ``call_command``).
VARIANTS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "omni_j1": ("omni", "--jobs 1", "migratealltenants", {"jobs": 1, "progress": "lines"}),
    "omni_j2": ("omni", "--jobs 2", "migratealltenants", {"jobs": 2, "progress": "lines"}),
    "omni_django_j2": (
        "omni",
        "--jobs 2 --executor django (Django's migrate per tenant)",
        "migratealltenants",
        {"jobs": 2, "progress": "lines", "executor": "django"},
    ),
    "dt_standard": (
        "dt",
        "standard executor",
        "migrate_schemas",
        {"tenant": True, "executor": "standard", "interactive": False},
    ),
    "dt_mp": (
        "dt",
        "multiprocessing executor, 2 processes",
        "migrate_schemas",
        {"tenant": True, "executor": "multiprocessing", "interactive": False},
    ),
}

RELEASE = ("notes", "0002_release")
#: Scenario C rolls the release back: ``COMMAND notes 0001``.
ROLLBACK = ("notes", "0001")
RELEASE_INDEX = "note_priority_title_idx"


def tenant_id(index: int) -> str:
    return f"t{index:04d}"


# -- setup ----------------------------------------------------------------------------------


#: Tenants copied per transaction by the bulk copy (``--api-tenants``).
BULK_BATCH = 100


def setup_omni(count: int, *, empty: bool = False, api: int | None = None) -> dict[str, float]:
    """The master schema and ``count`` tenants; ``empty``: their schemas with no
    migration applied (``create(run_migrations=False)``), for scenario D.

    ``api``: only the first ``api`` tenants through omnitenant's API; the rest are bulk
    copies of the first one (see :func:`copy_tenants`)."""
    from django.core.management import call_command

    from django_omnitenant.utils import get_tenant_backend, get_tenant_model

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    master = time.perf_counter()
    tenant_model = get_tenant_model()
    first = 0.0
    through_api = count if api is None or empty else max(1, min(api, count))
    for index in range(1, through_api + 1):
        one = time.perf_counter()
        tenant = tenant_model.objects.create(tenant_id=tenant_id(index), name=tenant_id(index))
        # Cloned from omnitenant's template schema (CLONE_SCHEMA_TEMPLATE, the default);
        # the first tenant also creates and migrates the template.
        get_tenant_backend(tenant).create(run_migrations=not empty)
        if index == 1:
            first = time.perf_counter() - one
    done = time.perf_counter()
    for start in range(through_api + 1, count + 1, BULK_BATCH):
        copy_tenants(tenant_id(1), range(start, min(count, start + BULK_BATCH - 1) + 1))
    copied = time.perf_counter()
    return {
        "master_s": master - started,
        "tenants_s": done - master,
        "first_s": first,
        "api_tenants": through_api,
        "bulk_tenants": count - through_api,
        "bulk_s": copied - done,
    }


def copy_tenants(source: str, indexes: range) -> None:
    """Tenants ``indexes`` as copies of tenant ``source`` (made by omnitenant's API).

    In one transaction: the tenant rows (``bulk_create``, the source's fields but the
    ids), and for each a schema with every table of the source's schema (``CREATE TABLE
    ... (LIKE ... INCLUDING ALL)``, its rows, its sequences moved on): the storage the API
    makes, at a fraction of the cost. The benchmark measures migrating a fleet, not
    making one (that is bench/provisioning.py's subject).
    """
    from django.db import connections, transaction
    from psycopg import sql

    from django_omnitenant.utils import get_tenant_model

    tenant_model = get_tenant_model()
    model = tenant_model.objects.get(tenant_id=source)
    with transaction.atomic(), connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT table_name, bool_or(column_name = 'id') FROM information_schema.columns"
            " WHERE table_schema = %s GROUP BY table_name ORDER BY table_name",
            [model.schema_name],
        )
        tables = [(str(name), bool(has_id)) for name, has_id in cursor.fetchall()]
        if not tables:
            raise RuntimeError(f"The schema {model.schema_name!r} has no tables to copy.")
        tenant_model.objects.bulk_create(
            tenant_model(
                tenant_id=tenant_id(index),
                name=tenant_id(index),
                schema_name=tenant_id(index),
                status=model.status,
                isolation_type=model.isolation_type,
                server=model.server,
            )
            for index in indexes
        )
        statements: list[sql.Composable] = []
        for index in indexes:
            target = tenant_id(index)
            statements.append(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target)))
            for table, has_id in tables:
                new = sql.Identifier(target, table)
                old = sql.Identifier(model.schema_name, table)
                statements.append(
                    sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(new, old)
                )
                statements.append(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(new, old))
                if has_id:
                    statements.append(
                        sql.SQL(
                            "SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence({}, "
                            "'id'), max(id)) FROM {} HAVING max(id) IS NOT NULL"
                        ).format(sql.Literal(f'"{target}"."{table}"'), new)
                    )
        cursor.execute(sql.SQL(";\n").join(statements))


def setup_dt(count: int) -> dict[str, float]:
    from django.core.management import call_command
    from django_tenants.utils import get_tenant_model

    started = time.perf_counter()
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    master = time.perf_counter()
    tenant_model = get_tenant_model()
    first = 0.0
    for index in range(1, count + 1):
        one = time.perf_counter()
        # django-tenants' documented way: save() creates the schema and runs
        # migrate_schemas for it (auto_create_schema, no TENANT_BASE_SCHEMA to clone).
        tenant_model(schema_name=tenant_id(index), name=tenant_id(index)).save(verbosity=0)
        if index == 1:
            first = time.perf_counter() - one
    done = time.perf_counter()
    return {"master_s": master - started, "tenants_s": done - master, "first_s": first}


# -- the fleet command ------------------------------------------------------------------------


def run_variant(key: str, *, rollback: bool = False) -> float:
    from django.core.management import call_command

    _tool, _label, command, options = VARIANTS[key]
    arguments = ROLLBACK if rollback else ()
    started = time.perf_counter()
    call_command(command, *arguments, **options)
    return time.perf_counter() - started


class StatementCounter:
    """Counts the statements this process sends on its ``default`` connection (the
    master's and every schema tenant's) and on any connection opened while it runs (a
    helper thread's): with ``--jobs 1`` that is the whole run. Counted
    at the client (``execute_wrapper``): the shared server has no ``pg_stat_statements``."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def run_counted(key: str, *, rollback: bool = False) -> dict[str, Any]:
    from django.db import connections
    from django.db.backends.signals import connection_created

    counter = StatementCounter()
    connections["default"].execute_wrappers.append(counter)

    def count_on(sender: Any, connection: Any, **kwargs: Any) -> None:
        # Connections of other threads too (migratealltenants reads the fleet's
        # applied migrations on a helper thread's connection as well).
        if counter not in connection.execute_wrappers:
            connection.execute_wrappers.append(counter)

    connection_created.connect(count_on, weak=False)
    seconds = run_variant(key, rollback=rollback)
    options = VARIANTS[key][3]
    one_process = options.get("jobs", 1) == 1 and options.get("executor") != "multiprocessing"
    return {"seconds": seconds, "statements": counter.count if one_process else None}


def peak_memory_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its largest finished child, in MB."""
    import resource

    return {
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def profile_variant(key: str, sort: str, limit: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    seconds = run_variant(key)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(sort).print_stats(limit)
    return f"{key}: {seconds:.3f} s under cProfile (this process only)\n{out.getvalue()}"


# -- checking what the run did ------------------------------------------------------------------


def check() -> dict[str, int]:
    """Schemas with a ``django_migrations`` table, and those with the release applied."""
    from django.db import connections
    from psycopg import sql

    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind = 'r' "
            "AND n.nspname <> 'public'"
        )
        schemas = [str(row[0]) for row in cursor.fetchall()]
        with_release = 0
        rows = 0
        if schemas:
            cursor.execute(
                sql.SQL(" UNION ALL ")
                .join(
                    sql.SQL(
                        "SELECT count(*) FILTER (WHERE app = {} AND name = {}), count(*) FROM {}"
                    ).format(
                        sql.Literal(RELEASE[0]),
                        sql.Literal(RELEASE[1]),
                        sql.Identifier(schema, "django_migrations"),
                    )
                    for schema in schemas
                )
                .as_string(cursor.connection)
            )
            for applied, total in cursor.fetchall():
                with_release += int(applied)
                rows += int(total)
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname = %s", [RELEASE_INDEX])
        row = cursor.fetchone()
    return {
        "schemas": len(schemas),
        "with_release": with_release,
        "migration_rows": rows,
        "with_index": int(row[0]) if row else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["setup", "migrate", "check", "profile"])
    parser.add_argument("--tool", choices=["omni", "dt"])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--empty", action="store_true", help="setup: no migration applied")
    parser.add_argument(
        "--api-tenants", type=int, help="setup, omni: only these through the API, the rest copied"
    )
    parser.add_argument("--variant", choices=sorted(VARIANTS))
    parser.add_argument("--rollback", action="store_true", help="migrate: COMMAND notes 0001")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    django.setup()
    result: dict[str, Any]
    if args.step == "setup":
        if args.tool == "omni":
            result = setup_omni(args.tenants, empty=args.empty, api=args.api_tenants)
        else:
            result = setup_dt(args.tenants)
    elif args.step == "migrate":
        result = {**run_counted(args.variant, rollback=args.rollback), **peak_memory_mb()}
    elif args.step == "profile":
        result = {"report": profile_variant(args.variant, args.sort, args.limit)}
    else:
        result = check()
    from django.db import connections

    connections.close_all()
    args.result.write_text(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
