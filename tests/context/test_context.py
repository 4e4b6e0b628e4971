"""TenantContext: scoping, nesting, restoration and isolation across threads and tasks."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from omnitenant_context import (
    EMPTY_STATE,
    ContextState,
    InvalidIdentifier,
    NoTenantActive,
    TenantContext,
)
from tests.support import plain_tenant

ACME = plain_tenant("acme")
GLOBEX = plain_tenant("globex")


def test_no_tenant_outside_any_scope() -> None:
    assert TenantContext.get_tenant() is None
    assert TenantContext.get_state() is EMPTY_STATE
    assert TenantContext.get_state().is_empty
    assert not TenantContext.is_master()


def test_require_tenant_fails_closed_with_a_helpful_message() -> None:
    with pytest.raises(NoTenantActive, match=r"use_tenant\(tenant\)"):
        TenantContext.require_tenant()
    with TenantContext.use_tenant(ACME):
        assert TenantContext.require_tenant() is ACME


def test_use_tenant_sets_and_restores() -> None:
    with TenantContext.use_tenant(ACME) as entered:
        assert entered is ACME
        assert TenantContext.get_tenant() is ACME
    assert TenantContext.get_tenant() is None


def test_nesting_restores_each_outer_state_exactly() -> None:
    with TenantContext.use_tenant(ACME):
        with TenantContext.use_schema("reporting"):
            outer_schema_state = TenantContext.get_state()
            assert outer_schema_state == ContextState(tenant=ACME, schema="reporting")
            with TenantContext.use_tenant(GLOBEX):
                assert TenantContext.get_state() == ContextState(tenant=GLOBEX)
                with TenantContext.use_master_db():
                    assert TenantContext.get_tenant() is None
                    assert TenantContext.is_master()
                    with TenantContext.use_schema("public"):
                        assert TenantContext.get_state() == ContextState(schema="public")
                    assert TenantContext.get_state() == ContextState(master=True)
                assert TenantContext.get_state() == ContextState(tenant=GLOBEX)
            assert TenantContext.get_state() is outer_schema_state
        assert TenantContext.get_state() == ContextState(tenant=ACME)
    assert TenantContext.get_state() is EMPTY_STATE


def test_master_scope_inside_a_tenant_and_back() -> None:
    with TenantContext.use_tenant(ACME):
        with TenantContext.use_master_db():
            assert TenantContext.get_tenant() is None
            with TenantContext.use_tenant(GLOBEX):
                assert not TenantContext.is_master()
                assert TenantContext.get_tenant() is GLOBEX
            assert TenantContext.is_master()
        assert TenantContext.get_tenant() is ACME
        assert not TenantContext.is_master()


def test_exception_in_body_restores_every_level() -> None:
    class Boom(Exception):
        pass

    with TenantContext.use_tenant(ACME):
        with pytest.raises(Boom), TenantContext.use_tenant(GLOBEX):
            with TenantContext.use_master_db():
                raise Boom
        assert TenantContext.get_tenant() is ACME
    assert TenantContext.get_state() is EMPTY_STATE


def test_leaving_restores_even_if_body_left_an_inner_scope_open() -> None:
    with TenantContext.use_tenant(ACME):
        # A body that enters a scope and never leaves it must not leak past its parent.
        TenantContext.use_tenant(GLOBEX).__enter__()
        assert TenantContext.get_tenant() is GLOBEX
    assert TenantContext.get_tenant() is None


def test_scope_made_early_uses_state_current_when_entered() -> None:
    schema_scope = TenantContext.use_schema("reporting")
    with TenantContext.use_tenant(ACME), schema_scope:
        assert TenantContext.get_state() == ContextState(tenant=ACME, schema="reporting")


def test_scope_cannot_be_entered_twice_or_left_unentered() -> None:
    scope = TenantContext.use_tenant(ACME)
    with scope:
        pass
    with pytest.raises(RuntimeError, match="only once"), scope:
        pass
    with pytest.raises(RuntimeError, match="never entered"):
        TenantContext.use_tenant(ACME).__exit__(None, None, None)


def test_use_tenant_refuses_none() -> None:
    with pytest.raises(TypeError, match="use_state"):
        TenantContext.use_tenant(None)  # type: ignore[arg-type]  # refusing None is the point


@pytest.mark.parametrize("bad", ["Acme", "pg_catalog", 'x"; DROP SCHEMA public; --', "", "a" * 64])
def test_use_schema_validates_the_name_before_anything_changes(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        TenantContext.use_schema(bad)
    assert TenantContext.get_state() is EMPTY_STATE


def test_use_state_reenters_a_captured_state_and_empty_state_clears() -> None:
    with TenantContext.use_tenant(ACME), TenantContext.use_schema("reporting"):
        captured = TenantContext.get_state()
    with TenantContext.use_state(captured):
        assert TenantContext.get_state() is captured
        with TenantContext.use_state(ContextState()):
            assert TenantContext.get_tenant() is None
    with pytest.raises(TypeError, match="ContextState"):
        TenantContext.use_state(ACME)  # type: ignore[arg-type]  # wrong type on purpose


def test_run_in_state_runs_the_call_in_the_state_and_restores_the_one_before() -> None:
    state = ContextState(tenant=ACME)

    def inside(extra: int) -> tuple[ContextState, int]:
        return TenantContext.get_state(), extra

    with TenantContext.use_tenant(GLOBEX):
        before = TenantContext.get_state()
        assert TenantContext.run_in_state(state, inside, 7) == (state, 7)
        assert TenantContext.get_state() is before

        def fails() -> None:
            assert TenantContext.get_tenant() is ACME
            raise LookupError("the body failed")

        with pytest.raises(LookupError, match="the body failed"):
            TenantContext.run_in_state(state, fails)
        assert TenantContext.get_state() is before  # restored after the failure too
    assert TenantContext.get_state() is EMPTY_STATE
    with pytest.raises(TypeError, match="ContextState"):
        TenantContext.run_in_state(ACME, inside, 1)  # type: ignore[arg-type]  # wrong type on purpose


def test_context_class_is_not_instantiated() -> None:
    with pytest.raises(TypeError, match="class methods"):
        TenantContext()


def test_fifty_threads_each_see_only_their_own_tenant() -> None:
    tenants = [plain_tenant(f"tenant_{i}") for i in range(50)]
    # All 50 threads are inside their scope at the same time before any of them checks.
    barrier = threading.Barrier(len(tenants))
    seen: dict[str, list[str | None]] = {}
    lock = threading.Lock()

    def worker(index: int) -> None:
        tenant = tenants[index]
        observed: list[str | None] = []
        assert TenantContext.get_tenant() is None
        with TenantContext.use_tenant(tenant):
            barrier.wait(timeout=30)
            for _ in range(20):
                current = TenantContext.get_tenant()
                observed.append(None if current is None else current.tenant_id)
                time.sleep(0.0005)
            barrier.wait(timeout=30)
        observed.append(None if TenantContext.get_tenant() is None else "leaked")
        with lock:
            seen[tenant.tenant_id] = observed

    with TenantContext.use_tenant(ACME):  # the parent's tenant must not reach the threads
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(tenants))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(seen) == sorted(t.tenant_id for t in tenants)
    for tenant_id, observed in seen.items():
        assert observed == [tenant_id] * 20 + [None]


def test_fifty_asyncio_tasks_each_see_only_their_own_tenant() -> None:
    tenants = [plain_tenant(f"tenant_{i}") for i in range(50)]

    async def task(index: int, all_inside: asyncio.Barrier) -> list[str | None]:
        observed: list[str | None] = []
        with TenantContext.use_tenant(tenants[index]):
            await all_inside.wait()
            for step in range(20):
                # Yield in different patterns so the tasks interleave unevenly.
                await asyncio.sleep(0 if (index + step) % 3 else 0.0005)
                current = TenantContext.get_tenant()
                observed.append(None if current is None else current.tenant_id)
        # Leaving restores the copy inherited from the parent task: ACME, not the child's.
        after = TenantContext.get_tenant()
        observed.append(None if after is None else after.tenant_id)
        return observed

    async def main() -> list[list[str | None]]:
        barrier = asyncio.Barrier(len(tenants))
        with TenantContext.use_tenant(ACME):
            results = await asyncio.gather(*(task(i, barrier) for i in range(len(tenants))))
            # The parent task keeps its own tenant while children set theirs.
            assert TenantContext.get_tenant() is ACME
        return results

    results = asyncio.run(main())
    for tenant, observed in zip(tenants, results, strict=True):
        assert observed == [tenant.tenant_id] * 20 + ["acme"]
    assert TenantContext.get_tenant() is None


def test_sync_to_async_and_back_carry_the_tenant_without_leaking() -> None:
    def sync_body() -> str | None:
        current = TenantContext.get_tenant()
        with TenantContext.use_tenant(GLOBEX):
            pass
        return None if current is None else current.tenant_id

    async def async_body() -> tuple[str | None, str | None]:
        inner = await sync_to_async(sync_body)()
        current = TenantContext.get_tenant()
        return inner, None if current is None else current.tenant_id

    with TenantContext.use_tenant(ACME):
        assert async_to_sync(async_body)() == ("acme", "acme")
        assert TenantContext.get_tenant() is ACME


def test_thread_pool_receives_a_state_only_when_handed_over() -> None:
    with TenantContext.use_tenant(ACME):
        state = TenantContext.get_state()
        with ThreadPoolExecutor(max_workers=2) as pool:
            plain = pool.submit(TenantContext.get_tenant).result()

            def with_state() -> object:
                with TenantContext.use_state(state):
                    return TenantContext.get_tenant()

            handed = pool.submit(with_state).result()
            after = pool.submit(TenantContext.get_tenant).result()
    assert plain is None
    assert handed is ACME
    assert after is None
