"""Microbenchmark: what tenant-aware cache keys cost per get and per set.

Compares Django's own LocMem, file and Redis backends with omnitenant's tenant-aware
classes: with no tenant active (plain global keys) and inside a tenant (Redis: one Lua
script per get/set, reading the generation on the server; LocMem: the generation kept
beside the entries; file: one generation read per operation, and the opt-in generation
memo). Prints a markdown table of microseconds per operation (best of several rounds).

    python bench/cache.py                 # LocMem, and Redis if 127.0.0.1:6379 answers
    python bench/cache.py --rounds 7 --ops 20000

Redis runs use database 11 and delete the keys they wrote.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000, help="operations per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the best one counts")
    args = parser.parse_args()

    run = f"bench-{uuid.uuid4().hex[:8]}"
    use_redis = redis_up()
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
        caches_setting |= {
            "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", **redis_common},
            "redis-tenant": {"BACKEND": "omnitenant_backends.cache.RedisCache", **redis_common},
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
            return [
                per_op_us(lambda i: cache.get(keys[i]), args.ops),
                per_op_us(lambda i: cache.set(keys[i], i), args.ops),
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

    print(f"{args.ops} operations per case and round, best of {args.rounds} rounds")
    print(f"Django {django.get_version()}")
    print()
    print(
        "| backend | case | get µs | set µs | get_many(10 keys) µs | vs Django (get / set / many) |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for row in rows:
        print(row)
    if not use_redis:
        print("\n(Redis at 127.0.0.1:6379 is not reachable: Redis rows skipped.)")

    caches["locmem"].clear()
    file_directory.cleanup()
    if use_redis:
        client = caches["redis"]._cache.get_client(write=True)
        stale = list(client.scan_iter(match=f"{run}*", count=1000))
        if stale:
            client.delete(*stale)


if __name__ == "__main__":
    main()
