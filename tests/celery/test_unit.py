"""omnitenant_celery without a worker: what is published, and eager runs (``apply()``).

An eager run goes through the same code as a worker (Celery's tracer, the task_prerun /
task_postrun signals, the task's ``__call__``), so the guarantees about restoring,
refusing and resetting the tenant are checked here too, in milliseconds. Messages are
published to Celery's in-memory broker and read back from the ``after_task_publish``
signal. No service is needed.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, Task, chain, group
from celery.signals import after_task_publish

from omnitenant_celery import (
    FAN_OUT_TASK,
    TENANT_HEADER,
    InvalidTenantHeader,
    TaskTenantError,
    TaskTenantLookupFailed,
    TaskTenantNotFound,
    TenantAwareTask,
    TenantStoreNotInstalled,
    for_each_tenant,
    install,
    jitter_delay,
    per_tenant_beat_entry,
    uninstall,
)
from omnitenant_context import (
    InvalidIdentifier,
    OmnitenantError,
    Tenant,
    TenantContext,
    TenantNotFound,
)
from tests.support import PlainTenant, plain_tenant

ROOT = Path(__file__).resolve().parents[2]
ACME = plain_tenant("acme")
BETA = plain_tenant("beta")


@dataclass
class DictStore:
    """A tenant store over a dict that records every lookup."""

    tenants: dict[str, PlainTenant]
    lookups: list[str] = field(default_factory=list)
    failure: Exception | None = None

    def get_by_id(self, tenant_id: str) -> Tenant | None:
        self.lookups.append(tenant_id)
        if self.failure is not None:
            raise self.failure
        return self.tenants.get(tenant_id)

    def get_by_domain(self, domain: str) -> Tenant | None:
        return None


STORE = DictStore({"acme": ACME, "beta": BETA})
# Not the current app, so it never captures tasks meant for the worker tests' app.
app = Celery("omnitenant_unit", broker="memory://", set_as_current=False)
app.conf.update(task_serializer="json", accept_content=["json"])
install(app, STORE, tenant_ids=lambda: ["acme", "beta"])

ran: list[str | None] = []


def current_id() -> str | None:
    tenant = TenantContext.get_tenant()
    return None if tenant is None else tenant.tenant_id


@app.task(base=TenantAwareTask)
def whoami() -> str | None:
    ran.append(current_id())
    return current_id()


@app.task(base=TenantAwareTask)
def explode() -> None:
    ran.append(current_id())
    raise ValueError(f"exploding in {current_id()}")


@app.task(base=TenantAwareTask, bind=True, max_retries=1)
def retry_once(self: Task[Any, Any]) -> tuple[str | None, int]:
    ran.append(current_id())
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return current_id(), self.request.retries


@app.task
def plain() -> str | None:
    return current_id()


@dataclass(frozen=True)
class Published:
    task: str
    headers: dict[str, Any]
    body: Any

    @property
    def tenant(self) -> object:
        return self.headers.get(TENANT_HEADER, "<absent>")


@pytest.fixture(autouse=True)
def fresh_store() -> Iterator[None]:
    ran.clear()
    STORE.lookups.clear()
    STORE.failure = None
    yield
    assert TenantContext.get_tenant() is None, "a test left a tenant behind"


@pytest.fixture
def published() -> Iterator[list[Published]]:
    messages: list[Published] = []

    def record(sender: str, headers: dict[str, Any], body: Any, **_: Any) -> None:
        messages.append(Published(sender, dict(headers), body))

    after_task_publish.connect(record, weak=False)
    try:
        yield messages
    finally:
        after_task_publish.disconnect(record)


# --- the sender side -----------------------------------------------------------------


def test_delay_sends_the_active_tenant_and_nothing_outside_one(
    published: list[Published],
) -> None:
    with TenantContext.use_tenant(ACME):
        whoami.delay()
    whoami.delay()
    assert [message.tenant for message in published] == ["acme", "<absent>"]


def test_an_explicit_tenant_wins_over_the_active_one(published: list[Published]) -> None:
    with TenantContext.use_tenant(ACME):
        whoami.apply_async(tenant=BETA)
        whoami.apply_async(tenant_id="beta")
        whoami.apply_async(tenant=None)  # no tenant, on purpose
        whoami.apply_async(headers={"trace": "x"})
    assert [message.tenant for message in published] == ["beta", "beta", None, "acme"]
    assert published[-1].headers["trace"] == "x"


def test_a_bad_explicit_tenant_is_refused_before_anything_is_sent(
    published: list[Published],
) -> None:
    with pytest.raises(InvalidIdentifier):
        whoami.apply_async(tenant_id="Not Valid")
    with pytest.raises(TypeError, match="either tenant= or tenant_id="):
        whoami.apply_async(tenant=ACME, tenant_id="acme")
    assert published == []


def test_send_task_by_name_and_plain_tasks_carry_the_tenant(published: list[Published]) -> None:
    with TenantContext.use_tenant(ACME):
        app.send_task("known.only.to.the.workers")
        plain.delay()
        app.send_task(whoami.name, headers={TENANT_HEADER: "beta"})  # set by the caller
    assert [message.tenant for message in published] == ["acme", "acme", "beta"]


def test_a_signature_made_in_a_tenant_keeps_it(published: list[Published]) -> None:
    with TenantContext.use_tenant(ACME):
        sig = whoami.s()
    sig.delay()
    with TenantContext.use_tenant(BETA):
        sig.delay()
    named = whoami.signature((), tenant_id="beta")
    assert "tenant_id" not in named.options
    json.dumps(named)  # still serialisable, so it can travel inside a chain
    named.delay()
    assert [message.tenant for message in published] == ["acme", "acme", "beta"]


def test_a_chain_made_in_a_tenant_carries_it_to_every_step(published: list[Published]) -> None:
    with TenantContext.use_tenant(ACME):
        canvas = chain(whoami.s(), whoami.si(), whoami.si())
    canvas.delay()  # sent from outside any tenant
    (first,) = published
    later_steps = first.body[2]["chain"]
    assert first.tenant == "acme"
    assert [step["options"]["headers"][TENANT_HEADER] for step in later_steps] == ["acme"] * 2


def test_a_canvas_made_outside_takes_each_sender_tenant_and_is_not_changed(
    published: list[Published],
) -> None:
    canvas = group(whoami.si(), whoami.si())
    with TenantContext.use_tenant(ACME):
        canvas.delay()
    with TenantContext.use_tenant(BETA):
        canvas.delay()
    assert [message.tenant for message in published] == ["acme", "acme", "beta", "beta"]
    assert all("headers" not in sig.options for sig in canvas.tasks)


# --- the worker side, run eagerly ------------------------------------------------------


def test_apply_runs_in_the_task_tenant_and_gives_the_caller_its_own_back() -> None:
    with TenantContext.use_tenant(BETA):
        assert whoami.apply(tenant=ACME).get() == "acme"
        assert TenantContext.get_tenant() is BETA
        assert whoami.apply().get() == "beta"
    assert whoami.apply().get() is None
    assert STORE.lookups == ["acme", "beta"]


def test_the_tenant_is_looked_up_again_not_taken_from_the_sender() -> None:
    stale = PlainTenant("acme", schema_name="old_schema")
    with TenantContext.use_tenant(stale):
        result = whoami.apply()
    assert result.get() == "acme"
    assert STORE.lookups == ["acme"]  # the worker ran in the store's acme, not in `stale`


def test_a_raising_task_leaves_no_tenant_behind() -> None:
    with pytest.raises(ValueError, match="exploding in acme"):
        explode.apply(tenant=ACME, throw=True)
    assert TenantContext.get_tenant() is None
    with TenantContext.use_tenant(BETA):
        result = explode.apply(tenant=ACME)
        assert result.state == "FAILURE"
        assert TenantContext.get_tenant() is BETA
    assert ran == ["acme", "acme"]


def test_a_retried_task_runs_every_attempt_in_its_tenant() -> None:
    result = retry_once.apply(tenant=ACME)
    assert result.get() == ("acme", 1)
    assert ran == ["acme", "acme"]
    assert TenantContext.get_tenant() is None


@pytest.mark.parametrize("store_answer", ["unknown", "failure"])
def test_a_task_whose_tenant_cannot_be_found_is_refused(
    store_answer: str, caplog: pytest.LogCaptureFixture
) -> None:
    if store_answer == "failure":
        STORE.failure = ConnectionError("master database unreachable")
    with caplog.at_level(logging.ERROR, logger="omnitenant_celery"):
        result = whoami.apply(tenant_id="gone")
    assert result.state == "FAILURE"
    assert ran == []  # the body never ran
    error = result.result
    if store_answer == "unknown":
        assert isinstance(error, TaskTenantNotFound)
        assert isinstance(error, TenantNotFound)
    else:
        assert isinstance(error, TaskTenantLookupFailed)
        assert "master database unreachable" in str(error)
        assert isinstance(error.__cause__, ConnectionError)
    assert [record.getMessage() for record in caplog.records] == [
        f"Refused task {whoami.name}[{result.id}]: {error}"
    ]


@pytest.mark.parametrize(
    "header", ["ACME", "acme\n", "pg_toast", "user", "", "a" * 64, 7, {"id": "acme"}]
)
def test_a_malformed_header_is_refused_before_any_lookup(header: object) -> None:
    result = whoami.apply(headers={TENANT_HEADER: header})
    assert result.state == "FAILURE"
    assert isinstance(result.result, InvalidTenantHeader)
    assert isinstance(result.result, InvalidIdentifier)
    assert STORE.lookups == []
    assert ran == []


def test_refusals_are_omnitenant_errors_that_celery_does_not_retry() -> None:
    assert issubclass(TaskTenantError, OmnitenantError)
    assert TaskTenantError in whoami.throws  # expected: stored without a traceback dump


def test_threads_each_run_their_own_tenant() -> None:
    tenants = [ACME, BETA] * 20

    def run(tenant: PlainTenant) -> tuple[str | None, str | None]:
        return whoami.apply(tenant=tenant).get(), current_id()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(run, tenants))
    assert outcomes == [(tenant.tenant_id, None) for tenant in tenants]


def test_calling_the_task_object_directly_is_a_plain_call_in_the_caller_context() -> None:
    with TenantContext.use_tenant(BETA):
        assert whoami() == "beta"
    assert STORE.lookups == []


# --- install / uninstall ----------------------------------------------------------------


def test_a_task_of_an_app_that_is_not_installed_is_refused() -> None:
    other = Celery("omnitenant_unit_other", broker="memory://", set_as_current=False)

    @other.task(base=TenantAwareTask)
    def lost() -> None:
        ran.append(current_id())

    install(other, STORE)
    assert FAN_OUT_TASK in other.tasks
    uninstall(other)
    assert FAN_OUT_TASK not in other.tasks
    result = lost.apply(tenant=ACME)
    assert isinstance(result.result, TenantStoreNotInstalled)
    assert ran == []


def test_an_app_can_make_every_task_tenant_aware() -> None:
    every = Celery(
        "omnitenant_unit_every",
        broker="memory://",
        set_as_current=False,
        task_cls="omnitenant_celery:TenantAwareTask",
    )
    install(every, STORE)
    try:

        @every.task
        def undecorated() -> str | None:
            return current_id()

        assert isinstance(undecorated, TenantAwareTask)
        assert undecorated.apply(tenant=ACME).get() == "acme"
        # The fan-out task stays a plain task: it names its tenants itself.
        assert not isinstance(every.tasks[FAN_OUT_TASK], TenantAwareTask)
    finally:
        uninstall(every)


def test_install_needs_a_store() -> None:
    with pytest.raises(TypeError, match="needs a TenantStore"):
        install(app, object())  # type: ignore[arg-type]  # the mistake under test


def test_the_package_works_where_django_cannot_be_imported() -> None:
    # Celery itself imports Django when it is installed, so the check blocks Django
    # instead of looking for it in sys.modules: any Django import would raise.
    code = (
        "import sys\n"
        "sys.modules['django'] = None\n"
        "import omnitenant_celery\n"
        "from celery import Celery\n"
        "app = Celery('x', broker='memory://', set_as_current=False)\n"
        "store = type('S', (), {'get_by_id': lambda self, tenant_id: None})()\n"
        "omnitenant_celery.install(app, store)\n"
        "@app.task(base=omnitenant_celery.TenantAwareTask)\n"
        "def task(): pass\n"
        "print(type(task.apply(tenant_id='acme').result).__name__)\n"
    )
    environ = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=environ, cwd=ROOT, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "TaskTenantNotFound"


# --- fan-out and jitter ---------------------------------------------------------------


def test_jitter_is_stable_within_the_window_and_spread_over_it() -> None:
    ids = [f"tenant_{number}" for number in range(1000)]
    delays = [jitter_delay(tenant_id, 600.0, salt="reports.nightly") for tenant_id in ids]
    assert delays == [jitter_delay(tenant_id, 600.0, salt="reports.nightly") for tenant_id in ids]
    assert all(0.0 <= delay < 600.0 for delay in delays)
    per_minute = [sum(1 for delay in delays if minute * 60 <= delay < minute * 60 + 60)
                  for minute in range(10)]  # fmt: skip
    assert min(per_minute) > 50  # about 100 a minute; never all at once
    other_job = [jitter_delay(tenant_id, 600.0, salt="billing") for tenant_id in ids]
    assert other_job != delays
    assert jitter_delay("acme", 0.0) == 0.0
    with pytest.raises(ValueError, match="must not be negative"):
        jitter_delay("acme", -1.0)


def test_for_each_tenant_sends_once_per_tenant_with_its_own_countdown(
    published: list[Published],
) -> None:
    before = datetime.now(UTC)
    with TenantContext.use_tenant(BETA):  # the active tenant does not matter
        results = for_each_tenant(whoami, ["acme", "beta", "acme", "gamma"], jitter=600.0)
    after = datetime.now(UTC)
    assert len(results) == 3
    assert [message.tenant for message in published] == ["acme", "beta", "gamma"]
    for message in published:
        delay = timedelta(seconds=jitter_delay(str(message.tenant), 600.0, salt=whoami.name))
        eta = datetime.fromisoformat(message.headers["eta"])
        assert before + delay <= eta <= after + delay


def test_for_each_tenant_checks_before_sending(published: list[Published]) -> None:
    with pytest.raises(InvalidIdentifier):
        for_each_tenant(whoami, ["acme", "Bad Id"])
    with pytest.raises(TypeError, match="not a TenantAwareTask"):
        for_each_tenant(plain, ["acme"])
    with pytest.raises(TypeError, match="not a TenantAwareTask"):
        for_each_tenant(plain.name, ["acme"], app=app)
    with pytest.raises(TypeError, match="needs app="):
        for_each_tenant(whoami.name, ["acme"])
    no_source = Celery("omnitenant_unit_no_source", broker="memory://", set_as_current=False)
    install(no_source, STORE)
    try:
        with pytest.raises(TenantStoreNotInstalled, match="no tenant ids"):
            for_each_tenant("anything", app=no_source)
    finally:
        uninstall(no_source)
    assert published == []


def test_the_beat_entry_fans_out_to_every_tenant_of_the_source(
    published: list[Published],
) -> None:
    entry = per_tenant_beat_entry(whoami.name, 3600.0, jitter=30.0, options={"priority": 3})
    assert entry["task"] == FAN_OUT_TASK
    assert entry["schedule"] == 3600.0
    json.dumps(entry["kwargs"])  # beat stores and sends it as JSON
    # What the worker does when beat's message arrives.
    sent = app.tasks[entry["task"]].apply(kwargs=entry["kwargs"]).get()
    assert sent == 2
    tenant_messages = [message for message in published if message.task == whoami.name]
    assert [message.tenant for message in tenant_messages] == ["acme", "beta"]
