"""Context listeners hear every change, and a failing listener leaves no state behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from omnitenant_context import EMPTY_STATE, ContextState, TenantContext
from tests.support import plain_tenant

ACME = plain_tenant("acme")


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[ContextState, ContextState]] = []

    def context_changed(self, previous: ContextState, current: ContextState) -> None:
        self.changes.append((previous, current))


class Refuser:
    def context_changed(self, previous: ContextState, current: ContextState) -> None:
        if current.tenant is not None:
            raise PermissionError("refused")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    listener = Recorder()
    TenantContext.add_listener(listener)
    TenantContext.add_listener(listener)  # a second add is a no-op
    yield listener
    TenantContext.remove_listener(listener)


def test_listener_hears_enter_and_leave_in_order(recorder: Recorder) -> None:
    with TenantContext.use_tenant(ACME), TenantContext.use_master_db():
        pass
    tenant_state = ContextState(tenant=ACME)
    master_state = ContextState(master=True)
    assert recorder.changes == [
        (EMPTY_STATE, tenant_state),
        (tenant_state, master_state),
        (master_state, tenant_state),
        (tenant_state, EMPTY_STATE),
    ]


def test_removed_listener_hears_nothing() -> None:
    listener = Recorder()
    TenantContext.add_listener(listener)
    TenantContext.remove_listener(listener)
    TenantContext.remove_listener(listener)  # removing twice is harmless
    with TenantContext.use_tenant(ACME):
        pass
    assert listener.changes == []


def test_listener_failing_on_enter_leaves_the_context_unchanged() -> None:
    refuser = Refuser()
    TenantContext.add_listener(refuser)
    try:
        with pytest.raises(PermissionError), TenantContext.use_tenant(ACME):
            pytest.fail("the body must not run when a listener refuses the change")
        assert TenantContext.get_state() is EMPTY_STATE
    finally:
        TenantContext.remove_listener(refuser)


def test_run_in_state_is_heard_like_use_state(recorder: Recorder) -> None:
    state = ContextState(tenant=ACME)
    assert TenantContext.run_in_state(state, TenantContext.get_tenant) is ACME
    assert recorder.changes == [(EMPTY_STATE, state), (state, EMPTY_STATE)]


def test_run_in_state_refused_by_a_listener_runs_nothing_and_changes_nothing() -> None:
    refuser = Refuser()
    ran: list[bool] = []
    TenantContext.add_listener(refuser)
    try:
        with pytest.raises(PermissionError):
            TenantContext.run_in_state(ContextState(tenant=ACME), lambda: ran.append(True))
    finally:
        TenantContext.remove_listener(refuser)
    assert ran == []
    assert TenantContext.get_state() is EMPTY_STATE
