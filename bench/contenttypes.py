"""Microbenchmark: a warm ContentType lookup, Django's per-alias cache vs the tenant-keyed one.

    python bench/contenttypes.py               # default: 7 rounds of 50,000 lookups
    python bench/contenttypes.py --rounds 9 --ops 100000

No service is needed: the cache is filled by hand (no query is sent), so the rows time
exactly the warm path a request takes for ``get_for_model`` and ``get_for_id``: Django's
own dict keyed by alias, then :class:`django_omnitenant.contenttypes.TenantKeyedCache`
(keyed by alias and the connection's ``search_path`` in the current context), with no
tenant and inside a schema tenant. Every round measures each variant once; the best round
counts (as in ``bench/cache.py``). Prints a markdown table of nanoseconds per lookup.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.contrib.auth.models import Permission  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402

from django_omnitenant.contenttypes import TenantKeyedCache  # noqa: E402
from omnitenant_context import TenantContext  # noqa: E402
from tests.support import plain_tenant  # noqa: E402


def fill(cache: object) -> None:
    """Give ``ContentType.objects`` this cache, holding Permission's content type."""
    ContentType.objects._cache = cache  # type: ignore[attr-defined]  # the manager's dict
    permission = ContentType(id=7, app_label="auth", model="permission")
    ContentType.objects._add_to_cache("default", permission)  # type: ignore[attr-defined]


Scope = Callable[[], AbstractContextManager[object]]


def time_lookups(ops: int, scope: Scope) -> tuple[float, float]:
    manager = ContentType.objects
    with scope():
        manager.get_for_model(Permission)  # fills the tenant's own entry once
        manager.get_for_id(7)
        started = time.perf_counter_ns()
        for _ in range(ops):
            manager.get_for_model(Permission)
        by_model = (time.perf_counter_ns() - started) / ops
        started = time.perf_counter_ns()
        for _ in range(ops):
            manager.get_for_id(7)
        by_id = (time.perf_counter_ns() - started) / ops
    return by_model, by_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--ops", type=int, default=50_000)
    args = parser.parse_args()
    tenant = plain_tenant("bench_ct")
    variants: dict[str, tuple[Callable[[], object], Scope]] = {
        "Django (dict by alias), no tenant": (dict, nullcontext),
        "Django (dict by alias), in a schema tenant": (
            dict,
            lambda: TenantContext.use_tenant(tenant),
        ),
        "tenant-keyed, no tenant": (TenantKeyedCache, nullcontext),
        "tenant-keyed, in a schema tenant": (
            TenantKeyedCache,
            lambda: TenantContext.use_tenant(tenant),
        ),
    }
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds):
        for name, (make, scope) in variants.items():
            cache = make()
            fill(cache)
            if isinstance(cache, TenantKeyedCache):
                with scope():
                    fill(cache)
            result = time_lookups(args.ops, scope)
            previous = best.get(name)
            if previous is not None:
                result = (min(previous[0], result[0]), min(previous[1], result[1]))
            best[name] = result
    title = f"warm ContentType lookup ({args.rounds} rounds x {args.ops:,}, best round)"
    print(f"| {title} | get_for_model ns | get_for_id ns |")
    print("|---|---:|---:|")
    for name, (by_model, by_id) in best.items():
        print(f"| {name} | {by_model:.0f} | {by_id:.0f} |")


if __name__ == "__main__":
    main()
