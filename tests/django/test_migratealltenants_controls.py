"""migratealltenants' deploy controls: order, canary, batches with a check, a statement
timeout per tenant, resume after an interrupted rollback, JSON output and the summary."""

from __future__ import annotations

import io
import json
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from tests.django.test_fleet_executor import migration_rows, only, query, release

pytestmark = pytest.mark.postgres

RELEASED = ("tenantapp", "0004_view")


def run_json(*args: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    """Run with --format json: (per-tenant objects, the summary, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("migratealltenants", *args, "--format", "json", stdout=out, stderr=err)
    finally:
        objects = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
        run_json.last = (objects, err.getvalue())  # type: ignore[attr-defined]
    return objects[:-1], objects[-1], err.getvalue()


def last_run() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    objects, _ = run_json.last  # type: ignore[attr-defined]
    return objects[:-1], objects[-1]


def results(lines: list[dict[str, Any]]) -> dict[str, str]:
    return {line["tenant"]: line["result"] for line in lines}


@pytest.fixture
def fleet(tenant_factory: Any) -> list[Any]:
    return [tenant_factory(f"ctl_{n}") for n in range(6)]


def test_json_lines_and_summary_with_the_slowest(fleet: list[Any]) -> None:
    with release():
        lines, summary, err = run_json(*only(*fleet))
    # Every line of stdout was JSON (run_json parsed them); the rest went to stderr.
    assert "Tenants in state: active" in err
    assert results(lines) == {tenant.tenant_id: "migrated" for tenant in fleet}
    assert summary["summary"]["migrated"] == 6
    assert summary["summary"]["failed"] == 0
    slowest = summary["slowest"]
    assert len(slowest) == 5
    assert [s["seconds"] for s in slowest] == sorted((s["seconds"] for s in slowest), reverse=True)
    assert {s["tenant"] for s in slowest} <= {tenant.tenant_id for tenant in fleet}


def test_a_failing_canary_stops_the_run(fleet: list[Any]) -> None:
    query(fleet[1], "CREATE TABLE tenantapp_stock (id int)")  # its 0002 fails
    with release():
        with pytest.raises(CommandError, match="6 tenants were not migrated"):
            run_json("--canary", "2", *only(*fleet))
        lines, summary = last_run()
    assert results(lines) == {
        "ctl_0": "migrated",
        "ctl_1": "failed",
        **{f"ctl_{n}": "not started" for n in range(2, 6)},
    }
    assert "the canary failed (ctl_1)" in summary["stopped"]
    for tenant in fleet[2:]:
        assert RELEASED not in migration_rows(tenant)


def test_batches_stop_when_the_check_fails(fleet: list[Any]) -> None:
    with release():
        # The check passes after wave 1 (the canary) and fails after wave 2.
        with pytest.raises(CommandError, match="--check failed after wave 2: wave 2"):
            run_json(
                "--canary", "1", "--batch-size", "2", "--pause", "0.01",
                "--check", 'echo "wave $OMNITENANT_WAVE"; test "$OMNITENANT_WAVE" -lt 2',
                *only(*fleet),
            )  # fmt: skip
        lines, summary = last_run()
    assert results(lines) == {
        "ctl_0": "migrated",
        "ctl_1": "migrated",
        "ctl_2": "migrated",
        "ctl_3": "not started",
        "ctl_4": "not started",
        "ctl_5": "not started",
    }
    assert summary["summary"]["not started"] == 3


def test_a_tenant_over_the_timeout_is_reported_and_the_run_goes_on(fleet: list[Any]) -> None:
    blocked = fleet[2]
    master = settings.DATABASES["default"]
    with psycopg.connect(
        host=str(master["HOST"]),
        user=str(master["USER"]),
        dbname=connections["default"].settings_dict["NAME"],
    ) as other:
        # Another session holds the table 0002's foreign key must lock: that tenant's
        # migration waits, and the statement timeout ends the wait.
        table = f'"{blocked.schema_name}".tenantapp_notebook'
        other.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        with release():
            with pytest.raises(CommandError, match="1 of 6 tenants were not migrated: ctl_2"):
                run_json("--timeout", "0.5", *only(*fleet))
            lines, _ = last_run()
        other.rollback()
    outcome = results(lines)
    assert outcome.pop("ctl_2") == "timed out"
    assert set(outcome.values()) == {"migrated"}
    assert RELEASED not in migration_rows(blocked)
    # The timeout does not outlive the run on the shared connection.
    assert query(fleet[0], "SHOW statement_timeout") == [("0",)]


def test_resume_skips_what_an_interrupted_rollback_finished(fleet: list[Any]) -> None:
    with release():
        run_json(*only(*fleet))
        # An interrupted rollback: it got through two tenants.
        run_json("tenantapp", "0003", *only(*fleet[:2]))
        lines, _, _ = run_json("--resume", "tenantapp", "0003", *only(*fleet))
        assert results(lines) == {
            **{t.tenant_id: "up to date" for t in fleet[:2]},
            **{t.tenant_id: "migrated" for t in fleet[2:]},
        }
        for tenant in fleet:
            assert RELEASED not in migration_rows(tenant)
            assert ("tenantapp", "0003_fill") in migration_rows(tenant)


def test_order_by_size_puts_the_biggest_tenant_last(fleet: list[Any]) -> None:
    query(
        fleet[0],
        "CREATE TABLE ballast AS SELECT repeat('x', 500) AS filler FROM generate_series(1, 2000)",
    )
    with release():
        lines, _, _ = run_json("--order", "size", *only(*fleet))
        assert lines[-1]["tenant"] == "ctl_0"
        lines, _, _ = run_json("--order", "created", "tenantapp", "0003", *only(*fleet))
        assert [line["tenant"] for line in lines] == [t.tenant_id for t in fleet]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--canary", "0", "0 must be at least 1"),
        ("--batch-size", "x", "'x' is not a whole number"),
        ("--pause", "-1", "-1 is negative"),
        ("--timeout", "0", "0 is not a timeout"),
        ("--order", "random", "invalid choice"),
    ],
)
def test_bad_control_values_are_usage_errors(option: str, value: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("migratealltenants", option, value, stdout=io.StringIO())
