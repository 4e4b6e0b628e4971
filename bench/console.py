"""Benchmark: one page of the fleet console with 10,000 tenants, in queries and time.

Makes 10,000 tenant rows (with a domain each) in a scratch database; the 50 tenants of the
first page also get real schemas (cloned from the template), so their pending
migrations and sizes are read from real catalogs. Then requests pages of the console
through Django's test client as a superuser, counts the statements each sends to the
master (``CaptureQueriesContext``) and times them (median of ``--rounds``). Prints
markdown.

    DJANGO_SETTINGS_MODULE=tests.settings python bench/console.py [--tenants 10000]

Runs in a scratch database of its own, ``omnitenant_bench_console_<pid>``, on the server
of ``tests.settings``; dropped at the end, also after an error.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test project (tests.settings) lives at the root
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402 - the path above must be in place first

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from django_omnitenant import provisioning  # noqa: E402
from django_omnitenant.console import PAGE_SIZE  # noqa: E402
from tests.testapp.models import Domain, Tenant  # noqa: E402

PAGES = (
    ("first page", {}),
    ("page 100", {"page": "100"}),
    ("page 200 (the last)", {"page": "200"}),
    ("search by domain", {"q": "bench-0424"}),
    (
        "state + isolation + server",
        {"state": "active", "isolation": "schema", "server": "schema:default"},
    ),
)


def make_fleet(count: int) -> None:
    real = [f"bench_{i:05d}" for i in range(PAGE_SIZE)]
    for tenant_id in real:
        provisioning.create_tenant(tenant_id, domains=[f"{tenant_id.replace('_', '-')}.test"])
    rows = Tenant.objects.bulk_create(
        Tenant(tenant_id=f"bench_{i:05d}", name=f"Bench {i}") for i in range(PAGE_SIZE, count)
    )
    Domain.objects.bulk_create(
        Domain(tenant=tenant, domain=f"{tenant.tenant_id.replace('_', '-')}.test", is_primary=True)
        for tenant in rows
    )


def measure(client: Client, query: dict[str, str], rounds: int) -> tuple[int, float, float, str]:
    """Statements of a page, the median seconds of the request and of its SQL, and the
    slowest statement of the last request (its start and milliseconds)."""
    counts = []
    seconds = []
    in_sql = []
    slowest = ""
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get("/console/", query, HTTP_HOST="example.test")
            seconds.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
        counts.append(len(queries))
        in_sql.append(sum(float(q["time"]) for q in queries.captured_queries))
        worst = max(queries.captured_queries, key=lambda q: float(q["time"]))
        slowest = f"`{worst['sql'][:48]}...` {float(worst['time']) * 1000:.0f}"
    assert len(set(counts)) == 1, counts
    return counts[0], statistics.median(seconds), statistics.median(in_sql), slowest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="requests per page; median counts")
    args = parser.parse_args()

    creation = connection.creation
    connection.settings_dict["TEST"] = {
        **connection.settings_dict.get("TEST", {}),
        "NAME": f"omnitenant_bench_console_{os.getpid()}",
    }
    original_name = creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        start = time.perf_counter()
        make_fleet(args.tenants)
        made = time.perf_counter() - start
        user = get_user_model().objects.create_superuser("bench", "b@example.test", "pw")
        client = Client()
        client.force_login(user)
        results = [(name, *measure(client, query, args.rounds)) for name, query in PAGES]
    finally:
        connection.close()
        creation.destroy_test_db(original_name, verbosity=0)

    print(
        f"Fleet console, {args.tenants:,} tenants ({PAGE_SIZE} per page, the first page's "
        f"with real schemas; fleet made in {made:.0f} s); median of {args.rounds} requests\n"
    )
    print("| page | statements | ms per request | of which SQL, ms | slowest statement, ms |")
    print("|---|---:|---:|---:|---|")
    for name, count, seconds, in_sql, slowest in results:
        print(f"| {name} | {count} | {seconds * 1000:.0f} | {in_sql * 1000:.0f} | {slowest} |")


if __name__ == "__main__":
    main()
