"""Microbenchmark: what omnitenant-celery adds to each task, on the sender and the worker.

    python bench/celery.py                    # default: 7 rounds of 3,000 operations
    python bench/celery.py --rounds 9 --ops 5000

No service is needed. The sender side publishes to Celery's in-memory broker
(``memory://``), so the numbers are Celery's own cost of building and publishing a
message plus what omnitenant adds, without a network round trip (a real broker adds
tens to hundreds of microseconds to every variant alike). The worker side runs tasks
eagerly (``task.apply()``): the same tracer, signals and ``__call__`` a worker runs,
without the broker; the tenant lookup goes through a warm ``CachedTenantStore``, as the
Django app's store is once a tenant has been seen.

omnitenant's receivers are process-wide once any app is installed, so the baselines are
taken with no app installed; every round measures each variant once (baselines, then
installed), and the best round counts (as in ``bench/cache.py``: on a busy machine the
best round is the one least disturbed). Prints a markdown table of microseconds per
operation. The end-to-end rows carry Celery's own cost, which is large and moves with
the machine's load; the rows marked "omnitenant only" time exactly the code omnitenant
adds, and are the figure to read.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file, being
# named celery.py, would shadow the celery package: take the folder off first.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import argparse  # noqa: E402 - after the sys.path fix above
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import AbstractContextManager, contextmanager, nullcontext  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

from celery import Celery  # noqa: E402

from omnitenant_celery import TenantAwareTask, install, uninstall  # noqa: E402
from omnitenant_celery._headers import (  # noqa: E402
    UNSET,
    explicit_tenant_id,
    stamp_headers,
)
from omnitenant_celery._install import (  # noqa: E402
    _enter_task_tenant,
    _leave_task_tenant,
    _stamp_published_message,
)
from omnitenant_context import Tenant, TenantContext  # noqa: E402
from omnitenant_resolvers import CachedTenantStore  # noqa: E402


@dataclass(frozen=True)
class BenchTenant:
    tenant_id: str
    isolation_type: str = "schema"
    schema_name: str = ""
    database_alias: str = ""
    cache_namespace: str = ""


ACME = BenchTenant("acme", schema_name="acme")


class DictStore:
    def get_by_id(self, tenant_id: str) -> Tenant | None:
        return ACME if tenant_id == "acme" else None

    def get_by_domain(self, domain: str) -> Tenant | None:
        return None


def per_op_us(
    operation: Callable[[], object], ops: int, scope: AbstractContextManager[Any]
) -> float:
    with scope:
        for _ in range(min(ops, 200)):  # warm up: pools, caches, lazily built tracers
            operation()
        start = time.perf_counter()
        for _ in range(ops):
            operation()
        elapsed = time.perf_counter() - start
    return elapsed / ops * 1e6


def in_acme() -> AbstractContextManager[Any]:
    return TenantContext.use_tenant(ACME)


@contextmanager
def request_of(task: Any) -> Iterator[None]:
    """The request a worker pushes before it runs a task sent in acme."""
    task.push_request(headers={"omnitenant_tenant": "acme"}, called_directly=False)
    try:
        yield
    finally:
        task.pop_request()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=3000, help="operations per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the best one counts")
    args = parser.parse_args()

    app = Celery("bench", broker="memory://", set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], task_ignore_result=True)
    store = CachedTenantStore(DictStore())

    @app.task
    def plain() -> None:
        pass

    @app.task(base=TenantAwareTask)
    def aware() -> None:
        pass

    def purge() -> None:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(app.conf.task_default_queue)

    # The worker calls the hooks with the registered task object, not the lazy proxy
    # that the decorator returns.
    real_aware = app.tasks[aware.name]

    def sender_hooks() -> None:
        # What TenantAwareTask.apply_async and the before_task_publish receiver add to
        # one send in a tenant: decide the header, then the receiver sees it is set.
        headers = stamp_headers(None, explicit_tenant_id(UNSET, UNSET))
        _stamp_published_message(headers=dict(headers or {}))

    def pushed_request() -> AbstractContextManager[None]:
        return request_of(real_aware)

    def worker_hooks() -> None:
        # The task_prerun and task_postrun receivers around one execution: read and
        # check the header, look the tenant up (warm), enter the scope, leave it.
        _enter_task_tenant(task=real_aware)
        _leave_task_tenant(task=real_aware)

    # (section, label, operation, scope factory, installed?, baseline label)
    variants: list[tuple[str, str, Callable[[], object], Callable[[], Any], bool, str | None]] = [
        ("sender", "omnitenant only: header + publish receiver, in a tenant",
         sender_hooks, in_acme, True, None),
        ("sender", "plain task .delay(), omnitenant not installed",
         plain.delay, nullcontext, False, None),
        ("sender", "plain task .delay() in a tenant, installed",
         plain.delay, in_acme, True, "plain task .delay(), omnitenant not installed"),
        ("sender", "TenantAwareTask .delay(), no tenant, installed",
         aware.delay, nullcontext, True, "plain task .delay(), omnitenant not installed"),
        ("sender", "TenantAwareTask .delay() in a tenant, installed",
         aware.delay, in_acme, True, "plain task .delay(), omnitenant not installed"),
        ("worker", "omnitenant only: restore + warm lookup + reset",
         worker_hooks, pushed_request, True, None),
        ("worker", "plain task .apply(), omnitenant not installed",
         plain.apply, nullcontext, False, None),
        ("worker", "plain task .apply(), installed",
         plain.apply, nullcontext, True, "plain task .apply(), omnitenant not installed"),
        ("worker", "TenantAwareTask .apply() in its tenant, installed",
         lambda: aware.apply(headers={"omnitenant_tenant": "acme"}), nullcontext, True,
         "plain task .apply(), omnitenant not installed"),
    ]  # fmt: skip

    samples: dict[str, list[float]] = {label: [] for _, label, *_ in variants}
    for _ in range(args.rounds):
        for installed in (False, True):
            if installed:
                install(app, store)
            for _section, label, operation, scope, needs_install, _baseline in variants:
                if needs_install is installed:
                    samples[label].append(per_op_us(operation, args.ops, scope()))
                    purge()
            if installed:
                uninstall(app)

    best = {label: min(values) for label, values in samples.items()}
    print(f"omnitenant-celery overhead: best of {args.rounds} rounds x {args.ops:,} ops\n")
    print("| side | operation | µs/op | added vs baseline |")
    print("|---|---|---:|---:|")
    for section, label, _operation, _scope, _installed, baseline in variants:
        added = "" if baseline is None else f"{best[label] - best[baseline]:+.1f} µs"
        print(f"| {section} | {label} | {best[label]:.1f} | {added} |")


if __name__ == "__main__":
    main()
