"""Benchmark: what a tenant move costs — seconds of read-only time per 100 MB.

Creates a schema tenant whose ``tenantapp_note`` table takes about ``--mb`` MB on disk
with its indexes (rows of 192 characters, filled on the server with ``generate_series``;
the size is measured with ``pg_total_relation_size``), then moves it
schema → PostgreSQL database → schema (binary ``COPY`` between two connections, the
verification's checksums included) and, with ``--rows-mb``, schema → SQLite (the row path
through the models). Prints one markdown table: table size, seconds the tenant was
read-only (``write_unavailable_seconds``), the copy's share of it, the MB streamed (the
``COPY`` data, or the rows' JSON) and per second, and read-only seconds per 100 MB on disk.

    DJANGO_SETTINGS_MODULE=tests.settings python bench/moves.py [--mb 100] [--rows-mb 10]

Runs in a scratch database of its own, ``omnitenant_bench_moves_<pid>`` (and a tenant
database named after it) on the server of ``tests.settings``; both are dropped at the
end, also after an error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test project (tests.settings) lives at the root
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402 - the path above must be in place first

django.setup()

from django.db import connection  # noqa: E402
from psycopg import sql  # noqa: E402

from django_omnitenant import moves, provisioning  # noqa: E402
from django_omnitenant.moves import MoveReport  # noqa: E402

# A 192-character note on disk: the row, its tuple header and the index on its text.
_ROW_BYTES = 608


def fill(schema: str, megabytes: float) -> float:
    rows = int(megabytes * 1e6 / _ROW_BYTES)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "INSERT INTO {} (text, priority, created) "
                "SELECT repeat(md5(i::text), 6), 1 + i %% 5, now() "
                "FROM generate_series(1, %s) AS i"
            ).format(sql.Identifier(schema, "tenantapp_note")),
            [rows],
        )
        cursor.execute(
            "SELECT pg_total_relation_size(%s::regclass)",
            [sql.Identifier(schema, "tenantapp_note").as_string(connection.connection)],
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0]) / 1e6


def line(kind: str, size_mb: float, report: MoveReport) -> str:
    unavailable = report.write_unavailable_seconds
    copy = report.copy
    per_100 = unavailable / size_mb * 100
    return (
        f"| {kind} | {size_mb:.0f} | {copy.rows} | {copy.bytes / 1e6:.0f} | {unavailable:.1f} | "
        f"{copy.seconds:.1f} | {copy.bytes / 1e6 / copy.seconds:.1f} | {per_100:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100, help="size of the tenant's table")
    parser.add_argument("--rows-mb", type=float, default=10, help="size for the row path (0: skip)")
    args = parser.parse_args()

    creation = connection.creation
    scratch = f"omnitenant_bench_moves_{os.getpid()}"
    connection.settings_dict["TEST"] = {**connection.settings_dict.get("TEST", {}), "NAME": scratch}
    original_name = creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    master: dict[str, Any] = connection.settings_dict
    pg = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": f"{scratch}_tenant",
        "HOST": master["HOST"],
        "USER": master["USER"],
    }
    lines: list[str] = []
    tenants: list[Any] = []
    try:
        tenant = provisioning.create_tenant("bench_move")
        tenants.append(tenant)
        size = fill("bench_move", args.mb)
        report = moves.move_tenant(tenant, isolation_type="database", database_config=pg)
        lines.append(line("schema → PostgreSQL database (COPY)", size, report))
        moves.purge_source(tenant)
        report = moves.move_tenant(tenant, isolation_type="schema")
        lines.append(line("PostgreSQL database → schema (COPY)", size, report))
        moves.purge_source(tenant)
        if args.rows_mb:
            small = provisioning.create_tenant("bench_rows")
            tenants.append(small)
            small_size = fill("bench_rows", args.rows_mb)
            report = moves.move_tenant(small, isolation_type="database", database_config={})
            lines.append(line("schema → SQLite (rows through the models)", small_size, report))
            moves.purge_source(small)
    finally:
        for made in tenants:
            made.refresh_from_db()
            provisioning.purge_tenant(made, require_mark=False)
        connection.close()
        creation.destroy_test_db(original_name, verbosity=0)

    print(
        "| move | tenant MB on disk | rows | MB streamed | read-only s | copy + verify s "
        "| MB/s streamed | read-only s per 100 MB on disk |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for text in lines:
        print(text)


if __name__ == "__main__":
    main()
