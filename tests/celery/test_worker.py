"""Tenant-aware tasks on a real worker and broker (Redis), writing to real PostgreSQL.

The worker is ``celery worker --pool=solo`` started once for the session (see
``conftest.py``): every task runs in that one process, one after the other, so a tenant
left behind by one task would be seen by the next.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from celery import chain, chord, group
from celery.result import AsyncResult
from django.conf import settings
from django.core.cache import caches
from django.core.management import call_command
from django.db import connections
from django.test import Client

from django_omnitenant import provisioning
from django_omnitenant.constants import TenantStatus
from django_omnitenant.patches.celery import active_tenant_ids
from omnitenant_backends.schema import schema_exists
from omnitenant_celery import (
    FAN_OUT_TASK,
    TENANT_HEADER,
    InvalidTenantHeader,
    TaskTenantNotFound,
    for_each_tenant,
    per_tenant_beat_entry,
)
from omnitenant_context import NoTenantActive, TenantContext
from tests.celery.celery_app import app
from tests.celery.conftest import LiveWorker
from tests.celery.tasks import (
    chain_step,
    collect,
    fail_in_tenant,
    hold,
    plain_whoami,
    retry_once,
    whoami,
    write_note,
)
from tests.tenantapp.models import Note
from tests.testapp.models import Tenant

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.usefixtures("live_worker", "shared_tenant_cache"),
]

TIMEOUT = 30.0


def outcome(result: AsyncResult[Any]) -> Any:
    """Wait for a result; return the task's value, or its exception without raising it."""
    return result.get(timeout=TIMEOUT, propagate=False)


def notes_in(tenant: Any) -> list[str]:
    with TenantContext.use_tenant(tenant):
        return sorted(Note.objects.values_list("text", flat=True))


def notes_in_schema(schema: str) -> list[str]:
    """Read a schema's notes directly, whether or not a tenant owns the schema any more."""
    with connections["default"].cursor() as cursor:
        table = f"{connections['default'].ops.quote_name(schema)}.tenantapp_note"
        cursor.execute(f"SELECT text FROM {table} ORDER BY text")  # noqa: S608 - quoted name
        return [row[0] for row in cursor.fetchall()]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.1)


@pytest.fixture
def db_tenant_config() -> dict[str, Any]:
    master = settings.DATABASES["default"]
    return {
        "ENGINE": "django.db.backends.postgresql",
        # Named after this session's test database, so concurrent runs never share it.
        "NAME": f"{connections['default'].settings_dict['NAME']}_cel_db",
        "HOST": master["HOST"],
        "USER": master["USER"],
    }


def test_each_task_writes_in_the_tenant_that_sent_it(
    tenant_factory: Any, db_tenant_config: dict[str, Any], live_worker: LiveWorker
) -> None:
    tenants = [
        tenant_factory("cel_a"),
        tenant_factory("cel_b"),
        tenant_factory("cel_db", "database", database_config=db_tenant_config),
    ]
    sent = []
    for tenant in tenants:
        with TenantContext.use_tenant(tenant):
            sent.append(write_note.delay(f"sent by {tenant.tenant_id}"))
    assert [outcome(result) for result in sent] == [
        {"tenant": tenant.tenant_id, "pid": live_worker.pid} for tenant in tenants
    ]
    for tenant in tenants:
        assert notes_in(tenant) == [f"sent by {tenant.tenant_id}"]


def test_chains_groups_and_chords_keep_the_tenant(tenant_factory: Any) -> None:
    a, b = tenant_factory("cel_a"), tenant_factory("cel_b")
    # Built outside any tenant: the canvas takes the tenant active when it is sent, and
    # the worker sends the later steps in that tenant. (A fresh canvas per send: Celery
    # gives a chain that is sent twice the same result id.)
    outside = [chain(chain_step.s([]), chain_step.s(), chain_step.s()) for _ in range(2)]
    with TenantContext.use_tenant(a):
        in_a = outside[0].delay()
        fan = group(whoami.s() for _ in range(3)).delay()
        joined = chord([whoami.s(), whoami.s()], collect.s()).delay()
        # Built inside a tenant: the signatures keep it wherever they are sent from.
        frozen = chain(chain_step.s([]), chain_step.s())
    with TenantContext.use_tenant(b):
        in_b = outside[1].delay()
    frozen_result = frozen.delay()

    assert outcome(in_a) == ["cel_a", "cel_a", "cel_a"]
    assert outcome(in_b) == ["cel_b", "cel_b", "cel_b"]
    assert [part["tenant"] for part in outcome(fan)] == ["cel_a", "cel_a", "cel_a"]
    assert {key: value for key, value in outcome(joined).items() if key != "pid"} == {
        "tenant": "cel_a",
        "parts": ["cel_a", "cel_a"],
    }
    assert outcome(frozen_result) == ["cel_a", "cel_a"]


def test_a_task_sent_without_a_tenant_runs_without_one(tenant_factory: Any) -> None:
    a = tenant_factory("cel_a")
    assert outcome(whoami.delay())["tenant"] is None
    with TenantContext.use_tenant(a):
        explicitly_none = whoami.apply_async(tenant=None)
    assert outcome(explicitly_none)["tenant"] is None
    # Tenant-scoped models fail closed in such a task instead of writing anywhere.
    orphan = write_note.delay("no tenant")
    assert isinstance(outcome(orphan), NoTenantActive)
    assert notes_in(a) == []


@pytest.mark.parametrize("ending", ["returns", "raises", "retries"])
def test_the_next_task_on_the_same_worker_does_not_inherit_the_tenant(
    ending: str, tenant_factory: Any, live_worker: LiveWorker
) -> None:
    a = tenant_factory("cel_a")
    with TenantContext.use_tenant(a):
        if ending == "returns":
            result = write_note.delay("done")
        elif ending == "raises":
            result = fail_in_tenant.delay("done")
        else:
            result = retry_once.delay("done")
    value = outcome(result)
    if ending == "raises":
        assert result.state == "FAILURE"
        assert isinstance(value, ValueError)
        assert str(value) == "failing on purpose in cel_a"
        assert notes_in(a) == ["done"]
    elif ending == "retries":
        assert value == {"tenant": "cel_a", "pid": live_worker.pid, "retries": 1}
        assert notes_in(a) == ["done attempt 0", "done attempt 1"]
    else:
        assert value == {"tenant": "cel_a", "pid": live_worker.pid}
    # A task that is not tenant-aware sees the worker's own context as it was left.
    assert outcome(plain_whoami.delay()) == {"tenant": None, "pid": live_worker.pid}


@pytest.mark.parametrize(
    "change",
    ["deleted", "suspended", "maintenance", "provisioning", "marked_for_deletion", "failed"],
)
def test_a_queued_task_of_a_tenant_that_went_away_is_refused(
    change: str, tenant_factory: Any, live_worker: LiveWorker
) -> None:
    bystander = tenant_factory("cel_a")
    gone = tenant_factory("cel_gone")
    key = f"omnitenant-tests-release-{uuid.uuid4().hex}"
    # The solo worker is kept busy by `hold` until released: the tenant's task waits in
    # the queue meanwhile, and the tenant changes before the worker picks it up.
    blocker = hold.delay(key, TIMEOUT)
    with TenantContext.use_tenant(gone):
        queued = write_note.delay("must not be written")
    tenant_rows = type(gone).objects.filter(pk=gone.pk)
    if change == "deleted":
        tenant_rows.delete()  # the row only: the schema stays, so a stray write would show
    else:
        # Set as the provisioning module would leave it (not every state is reachable
        # from active in one move).
        tenant_rows.update(status=change)
    caches["shared"].set(key, "go", timeout=60)
    assert outcome(blocker) is None

    refusal = outcome(queued)
    assert queued.state == "FAILURE"
    assert isinstance(refusal, TaskTenantNotFound)
    assert "'cel_gone' is not active any more" in str(refusal)
    assert f"Refused task {write_note.name}[{queued.id}]" in live_worker.log()
    assert notes_in_schema("cel_gone") == []
    assert notes_in(bystander) == []


@pytest.mark.parametrize(
    "header",
    ["Cel_A", "cel_a; DROP SCHEMA cel_a CASCADE", "pg_catalog", "select", "a" * 64, 42, ["cel_a"]],
    ids=["upper-case", "sql", "pg-prefix", "reserved", "too-long", "number", "list"],
)
def test_a_malformed_tenant_header_is_refused(header: object, live_worker: LiveWorker) -> None:
    sent = app.send_task(write_note.name, ("evil",), headers={TENANT_HEADER: header})
    refusal = outcome(sent)
    assert sent.state == "FAILURE"
    # Not NoTenantActive: the body never ran, the header was refused before it.
    assert isinstance(refusal, InvalidTenantHeader)
    assert f"Refused task {write_note.name}[{sent.id}]" in live_worker.log()


def test_fan_out_from_beat_runs_once_in_every_active_tenant(tenant_factory: Any) -> None:
    a, b = tenant_factory("cel_a"), tenant_factory("cel_b")
    suspended = tenant_factory("cel_c")
    type(suspended).objects.filter(pk=suspended.pk).update(status=TenantStatus.SUSPENDED)
    active = active_tenant_ids()
    assert {"cel_a", "cel_b"} <= set(active)
    assert "cel_c" not in active

    entry = per_tenant_beat_entry(write_note.name, 3600, args=["nightly"], jitter=2.0)
    assert entry["task"] == FAN_OUT_TASK
    # What beat does when the entry is due: send the entry's task with its arguments.
    fan_out = app.send_task(entry["task"], kwargs=entry["kwargs"])
    assert outcome(fan_out) == len(active)
    wait_until(lambda: notes_in(a) == ["nightly"] and notes_in(b) == ["nightly"],
               "both active tenants ran the nightly task")  # fmt: skip
    assert notes_in(suspended) == []


def test_for_each_tenant_sends_one_task_per_tenant(tenant_factory: Any) -> None:
    tenant_factory("cel_a")
    tenant_factory("cel_b")
    results = for_each_tenant(whoami, ["cel_a", "cel_b", "cel_a"], jitter=1.0)
    assert [outcome(result)["tenant"] for result in results] == ["cel_a", "cel_b"]


# -- background provisioning ------------------------------------------------------------


def test_createtenant_background_returns_at_once_and_the_worker_finishes(
    live_db: None, live_worker: LiveWorker
) -> None:
    key = f"omnitenant-tests-release-{uuid.uuid4().hex}"
    blocker = hold.delay(key, TIMEOUT)  # the solo worker is busy: provisioning must wait
    try:
        out = io.StringIO()
        call_command(
            "createtenant", "--tenant-id=cel_bg", "--domain=cel-bg.example.test",
            "--background", "--noinput", stdout=out,
        )  # fmt: skip
        assert "it is provisioning" in out.getvalue()
        tenant = Tenant.objects.get(tenant_id="cel_bg")
        assert tenant.status == TenantStatus.PROVISIONING
        assert not schema_exists("cel_bg")
        waiting = Client().get("/whoami/", HTTP_HOST="cel-bg.example.test")
        assert waiting.status_code == 503
        assert waiting["Retry-After"]
        caches["shared"].set(key, "go", timeout=60)
        assert outcome(blocker) is None
        wait_until(
            lambda: Tenant.objects.get(tenant_id="cel_bg").status == TenantStatus.ACTIVE,
            "the worker made the tenant active",
        )
        assert schema_exists("cel_bg")
        # This process hears of the worker's change through the shared version, within
        # TENANT_CACHE_VERSION_CHECK_INTERVAL.
        wait_until(
            lambda: Client().get("/whoami/", HTTP_HOST="cel-bg.example.test").status_code == 200,
            "the tenant is served here",
        )
        served = Client().get("/whoami/", HTTP_HOST="cel-bg.example.test")
        assert served.json()["tenant"] == "cel_bg"
    finally:
        caches["shared"].set(key, "go", timeout=60)
        for leftover in Tenant.objects.filter(tenant_id="cel_bg"):
            provisioning.purge_tenant(leftover, require_mark=False)


def test_a_failed_background_provisioning_is_recorded_and_leaves_no_storage(
    live_db: None, live_worker: LiveWorker
) -> None:
    master = connections["default"].settings_dict
    # Nothing listens on port 1: CREATE DATABASE fails in the worker.
    config = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": f"{master['NAME']}_cel_bg_bad",
        "HOST": master["HOST"],
        "USER": master["USER"],
        "PORT": 1,
    }
    try:
        tenant = provisioning.create_tenant(
            "cel_bg_bad", isolation_type="database", database_config=config, background=True
        )
        assert tenant.status == TenantStatus.PROVISIONING
        wait_until(
            lambda: Tenant.objects.get(tenant_id="cel_bg_bad").status == TenantStatus.FAILED,
            "the worker recorded the failure",
        )
        failed = Tenant.objects.get(tenant_id="cel_bg_bad")
        assert "Creating tenant 'cel_bg_bad' failed" in failed.status_detail
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
            assert cursor.fetchone() is None
        # A failed tenant can be purged at once (it has no storage to lose).
        provisioning.purge_tenant(failed)
        assert not Tenant.objects.filter(tenant_id="cel_bg_bad").exists()
    finally:
        for leftover in Tenant.objects.filter(tenant_id="cel_bg_bad"):
            provisioning.purge_tenant(leftover, require_mark=False)
