"""django_omnitenant.otel: the tenant on request and task spans, and omnitenant's metrics.

Real requests through the middleware and the test URLconf, a real tenant made by the
provisioning API on PostgreSQL, a real eager Celery run; the OpenTelemetry SDK's
in-memory exporter and reader collect what the API calls produced.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import task_postrun, task_prerun
from django.core.management import call_command
from django.db import connection
from django.test import Client
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from django_omnitenant import otel, provisioning
from django_omnitenant.stores import get_tenant_store
from omnitenant_context import TenantContext
from omnitenant_context.observe import observing
from tests.celery.test_unit import ACME, whoami
from tests.tenantapp.models import Note
from tests.testapp.models import Tenant

pytestmark = pytest.mark.postgres

HOST = "otel.example.test"


@pytest.fixture
def spans() -> Iterator[tuple[trace.Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("tests"), exporter
    provider.shutdown()


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    otel.instrument(meter_provider=MeterProvider(metric_readers=[reader]))
    yield reader
    otel.uninstrument()


@pytest.fixture
def tenant(live_db: None) -> Iterator[Tenant]:
    created = provisioning.create_tenant("otel_acme", domains=[HOST])
    get_tenant_store().invalidate()
    yield Tenant.objects.get(pk=created.pk)
    provisioning.purge_tenant(created, require_mark=False)


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def finished(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    (span,) = [span for span in exporter.get_finished_spans() if span.name == name]
    return span


def test_the_request_span_carries_the_tenant(
    tenant: Tenant, reader: InMemoryMetricReader, spans: tuple[trace.Tracer, InMemorySpanExporter]
) -> None:
    tracer, exporter = spans
    client = Client()
    # The span an HTTP instrumentation opens around the whole Django handler.
    with tracer.start_as_current_span("GET /whoami/"):
        assert client.get("/whoami/", HTTP_HOST=HOST).status_code == 200
    with tracer.start_as_current_span("GET public"):
        assert client.get("/whoami/", HTTP_HOST="example.test").status_code == 200
    assert finished(exporter, "GET /whoami/").attributes == {otel.TENANT_ATTRIBUTE: "otel_acme"}
    assert otel.TENANT_ATTRIBUTE not in (finished(exporter, "GET public").attributes or {})


def test_the_celery_task_span_carries_the_tenant(
    reader: InMemoryMetricReader, spans: tuple[trace.Tracer, InMemorySpanExporter]
) -> None:
    tracer, exporter = spans
    tokens: dict[str, Any] = {}

    # What opentelemetry-instrumentation-celery does: a span per task run, current from
    # task_prerun to task_postrun.
    def started(task_id: str, task: Any, **_: Any) -> None:
        span = tracer.start_span(f"run/{task.name}")
        tokens[task_id] = (span, otel_context.attach(trace.set_span_in_context(span)))

    def ended(task_id: str, **_: Any) -> None:
        span, token = tokens.pop(task_id)
        otel_context.detach(token)
        span.end()

    task_prerun.connect(started, weak=False)
    task_postrun.connect(ended, weak=False)
    try:
        assert whoami.apply(tenant=ACME).get() == "acme"
        assert whoami.apply().get() is None
    finally:
        task_prerun.disconnect(started)
        task_postrun.disconnect(ended)
    runs = [span for span in exporter.get_finished_spans() if span.name == f"run/{whoami.name}"]
    assert [dict(span.attributes or {}) for span in runs] == [
        {otel.TENANT_ATTRIBUTE: "acme"},
        {},
    ]


def test_lookups_path_switches_and_provisioning_are_measured(
    tenant: Tenant, reader: InMemoryMetricReader
) -> None:
    client = Client()
    for _ in range(3):
        assert client.get("/whoami/", HTTP_HOST=HOST).status_code == 200
    assert client.get("/whoami/", HTTP_HOST="nobody.example.test").status_code == 404
    with TenantContext.use_tenant(tenant):
        Note.objects.create(text="measured")
    with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal: the domain is taken
        provisioning.create_tenant("otel_clash", domains=[HOST])

    found = points(reader)
    counts = {
        (p.attributes["omnitenant.lookup.kind"], p.attributes["omnitenant.lookup.result"]): p.value
        for p in found["omnitenant.lookups"]
    }
    assert counts == {("domain", "miss"): 2, ("domain", "hit"): 2}
    durations = {
        p.attributes["omnitenant.lookup.result"]: p.count
        for p in found["omnitenant.lookup.duration"]
    }
    assert durations == {"miss": 2, "hit": 2}
    assert sum(p.value for p in found["omnitenant.path_switches"]) >= 1
    (failed,) = found["omnitenant.provisioning.duration"]
    assert dict(failed.attributes) == {
        "omnitenant.isolation_type": "schema",
        "omnitenant.outcome": "failed",
    }
    assert failed.count == 1


def test_a_successful_provisioning_is_recorded_with_its_duration(
    reader: InMemoryMetricReader, tenant: Tenant
) -> None:
    # The fixture order puts instrument() first: the tenant's creation was measured.
    (point,) = points(reader)["omnitenant.provisioning.duration"]
    assert dict(point.attributes) == {
        "omnitenant.isolation_type": "schema",
        "omnitenant.outcome": "succeeded",
    }
    assert point.count == 1
    assert point.sum > 0


def test_fleet_migration_results_are_counted(
    tenant: Tenant, reader: InMemoryMetricReader, tenant_factory: Any
) -> None:
    behind = tenant_factory("otel_behind")
    with TenantContext.use_tenant(behind), connection.cursor() as cursor:
        cursor.execute("DROP TABLE django_omnitenant_tenantstatechange")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'django_omnitenant'")
    call_command(
        "migratealltenants",
        tenant=["otel_acme", "otel_behind"],
        format="json",
        stdout=io.StringIO(),
    )
    found = points(reader)
    results = {
        p.attributes["omnitenant.migration.result"]: p.value
        for p in found["omnitenant.fleet_migrations"]
    }
    assert results == {"up to date": 1, "migrated": 1}
    (ran,) = found["omnitenant.fleet_migration.duration"]
    assert dict(ran.attributes) == {"omnitenant.migration.result": "migrated"}
    assert ran.count == 1
    assert ran.sum > 0


def test_nothing_is_on_until_instrument_and_after_uninstrument(
    spans: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    assert not observing()
    with tracer.start_as_current_span("before"), TenantContext.use_tenant(ACME):
        pass
    otel.instrument(meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]))
    otel.uninstrument()
    with tracer.start_as_current_span("after"), TenantContext.use_tenant(ACME):
        pass
    assert not observing()
    assert all(not span.attributes for span in exporter.get_finished_spans())
