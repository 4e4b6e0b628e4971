"""Microbenchmark: what tenant-aware cache keys cost per get and per set.

Compares Django's own LocMem, file and Redis backends with omnitenant's tenant-aware
classes: with no tenant active (plain global keys) and inside a tenant (Redis: get and
get_many one MGET of the generation and the keys, set one Lua script reading the
generation on the server; LocMem: the generation kept beside the entries; file: one
generation read per operation, and the opt-in generation memo). The Redis rows "no tenant"
and "in a tenant" share one client path, so their ratio is what the tenant costs; against
Django's own class the tenant-aware one also saves the redis.Redis Django builds per call.
Prints a markdown table of microseconds per operation (best of several rounds).

    python bench/cache.py                 # LocMem, and Redis if 127.0.0.1:6379 answers
    python bench/cache.py --rounds 7 --ops 20000
    python bench/cache.py --output bench/results/cache.md   # also write the table

With Redis it also counts the requests each operation sends (one request = one round
trip), Django's class against the tenant-aware one inside a tenant.

Redis runs use database 11 and delete the keys they wrote.
"""

from __future__ import annotations

import argparse
import datetime
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, ClassVar

import django
from django.conf import settings

REDIS_URL = "redis://127.0.0.1:6379/11"


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def per_op_us(operation: Callable[[int], object], ops: int) -> float:
    """Microseconds per call of ``operation``, over ``ops`` calls."""
    start = time.perf_counter()
    for i in range(ops):
        operation(i)
    return (time.perf_counter() - start) / ops * 1e6


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000, help="operations per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the best one counts")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--require-redis", action="store_true", help="fail when Redis is not reachable"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    run = f"bench-{uuid.uuid4().hex[:8]}"
    use_redis = redis_up()
    if args.require_redis and not use_redis:
        sys.exit("Redis at 127.0.0.1:6379 is not reachable (--require-redis)")
    caches_setting: dict[str, dict[str, Any]] = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": run},
        "locmem-tenant": {"BACKEND": "omnitenant_backends.cache.LocMemCache", "LOCATION": run},
        "file": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"},
        "file-tenant": {"BACKEND": "omnitenant_backends.cache.FileBasedCache"},
        "file-memo": {
            "BACKEND": "omnitenant_backends.cache.FileBasedCache",
            "TENANT_GENERATION_MEMO_SECONDS": 5,
        },
    }
    file_directory = tempfile.TemporaryDirectory(prefix="omnitenant-bench-cache-")
    for alias in ("file", "file-tenant", "file-memo"):
        caches_setting[alias]["LOCATION"] = file_directory.name
    if use_redis:
        redis_common = {"LOCATION": REDIS_URL, "KEY_PREFIX": run}
        counted = {**redis_common, "OPTIONS": {"connection_class": _counting_connection()}}
        caches_setting |= {
            "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", **redis_common},
            "redis-tenant": {"BACKEND": "omnitenant_backends.cache.RedisCache", **redis_common},
            "redis-counted": {"BACKEND": "django.core.cache.backends.redis.RedisCache", **counted},
            "redis-tenant-counted": {"BACKEND": "omnitenant_backends.cache.RedisCache", **counted},
        }
    settings.configure(CACHES=caches_setting, USE_TZ=True)
    django.setup()

    from django.core.cache import caches

    from omnitenant_context import TenantContext

    class BenchTenant:
        tenant_id = "bench_tenant"
        isolation_type = "schema"
        schema_name = "bench_tenant"
        database_alias = "tenant_bench_tenant"
        cache_namespace = "bench_tenant"

    tenant = BenchTenant()

    def no_tenant() -> AbstractContextManager[object]:
        return nullcontext()

    def in_tenant() -> AbstractContextManager[object]:
        return TenantContext.use_tenant(tenant)

    cases: list[tuple[str, str, str, Callable[[], AbstractContextManager[object]]]] = [
        ("LocMem", "Django's LocMemCache", "locmem", no_tenant),
        ("LocMem", "tenant-aware, no tenant (global keys)", "locmem-tenant", no_tenant),
        ("LocMem", "tenant-aware, in a tenant", "locmem-tenant", in_tenant),
        ("file", "Django's FileBasedCache", "file", no_tenant),
        ("file", "tenant-aware, no tenant (global keys)", "file-tenant", no_tenant),
        ("file", "tenant-aware, in a tenant", "file-tenant", in_tenant),
        ("file", "tenant-aware, in a tenant, memo 5 s", "file-memo", in_tenant),
    ]
    if use_redis:
        cases += [
            ("Redis", "Django's RedisCache", "redis", no_tenant),
            ("Redis", "tenant-aware, no tenant (global keys)", "redis-tenant", no_tenant),
            ("Redis", "tenant-aware, in a tenant", "redis-tenant", in_tenant),
        ]

    keys = [f"key-{i % 100}" for i in range(args.ops + 10)]

    def measure(alias: str, scope: Callable[[], AbstractContextManager[object]]) -> list[float]:
        cache = caches[alias]
        with scope():
            # set() first: every get() then finds its key, in every case and round. (With
            # get() first, the first round of the first case of a directory read misses,
            # cheaper than hits, and the best round compared a miss with hits.)
            set_us = per_op_us(lambda i: cache.set(keys[i], i), args.ops)
            return [
                per_op_us(lambda i: cache.get(keys[i]), args.ops),
                set_us,
                per_op_us(lambda i: cache.get_many(keys[i : i + 10]), args.ops // 10),
            ]

    # Rounds interleave the cases, so a busy moment of the machine hits them all alike;
    # the best round of each case counts.
    best: dict[int, list[float]] = {}
    for _ in range(args.rounds):
        for index, (_, _, alias, scope) in enumerate(cases):
            timings = measure(alias, scope)
            best[index] = [
                min(pair) for pair in zip(best.get(index, timings), timings, strict=True)
            ]

    rows = []
    baselines: dict[str, list[float]] = {}
    for index, (family, label, _, _) in enumerate(cases):
        get_us, set_us, many_us = best[index]
        base = baselines.setdefault(family, best[index])
        rows.append(
            f"| {family} | {label} | {get_us:.1f} | {set_us:.1f} | {many_us:.1f} "
            f"| {get_us / base[0]:.2f}x / {set_us / base[1]:.2f}x / {many_us / base[2]:.2f}x |"
        )

    lines = [
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, load average "
        f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after",
        f"- command: python bench/cache.py {' '.join(sys.argv[1:])}",
        f"- {args.ops} operations per case and round, best of {args.rounds} rounds, "
        f"Django {django.get_version()}",
        "",
        "| backend | case | get µs | set µs | get_many(10 keys) µs "
        "| vs Django (get / set / many) |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
    ]
    if use_redis:
        lines += ["", *redis_requests(caches, in_tenant)]
    else:
        lines.append("\n(Redis at 127.0.0.1:6379 is not reachable: Redis rows skipped.)")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.output is not None:
        args.output.write_text(report)

    caches["locmem"].clear()
    file_directory.cleanup()
    if use_redis:
        client = caches["redis"]._cache.get_client(write=True)
        stale = list(client.scan_iter(match=f"{run}*", count=1000))
        if stale:
            client.delete(*stale)


def _counting_connection() -> type:
    """A redis-py connection class that counts the requests it sends."""
    import redis

    class CountingConnection(redis.Connection):
        sent: ClassVar[list[int]] = [0]

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            type(self).sent[0] += 1
            super().send_packed_command(command, check_health)

    return CountingConnection


def redis_requests(
    caches: Any, in_tenant: Callable[[], AbstractContextManager[object]]
) -> list[str]:
    """Requests sent per operation: Django's RedisCache vs the tenant-aware one in a tenant."""
    operations: list[tuple[str, Callable[[Any], object]]] = [
        ("get", lambda cache: cache.get("counted")),
        ("set", lambda cache: cache.set("counted", 1)),
        ("add", lambda cache: cache.add("other", 1)),
        ("has_key", lambda cache: cache.has_key("counted")),
        ("incr", lambda cache: cache.incr("counted")),
        ("decr", lambda cache: cache.decr("counted")),
        ("touch", lambda cache: cache.touch("counted", 60)),
        ("get_many (3 keys)", lambda cache: cache.get_many(["counted", "other", "x"])),
        ("set_many (3 keys)", lambda cache: cache.set_many({"a": 1, "b": 2, "c": 3}, 60)),
        ("delete_many (3 keys)", lambda cache: cache.delete_many(["a", "b", "c"])),
        ("delete", lambda cache: cache.delete("other")),
    ]

    def count(alias: str, scope: Callable[[], AbstractContextManager[object]]) -> list[int]:
        cache = caches[alias]
        sent = cache._cache._pool_options["connection_class"].sent
        with scope():
            for _, operation in operations:  # connects, loads the scripts
                operation(cache)
            counts = []
            for _, operation in operations:
                before = sent[0]
                operation(cache)
                counts.append(sent[0] - before)
        return counts

    django_counts = count("redis-counted", nullcontext)
    tenant_counts = count("redis-tenant-counted", in_tenant)
    lines = [
        "| Redis operation | requests, Django's RedisCache | requests, tenant-aware in a tenant |",
        "|---|---:|---:|",
    ]
    for (name, _), mine, theirs in zip(operations, tenant_counts, django_counts, strict=True):
        lines.append(f"| {name} | {theirs} | {mine} |")
    return lines


if __name__ == "__main__":
    main()
