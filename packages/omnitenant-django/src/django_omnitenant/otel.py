"""OpenTelemetry for omnitenant (extra ``omnitenant-django[otel]``; the API only).

Switched on explicitly, once, where the project sets up OpenTelemetry (``settings.py``,
``wsgi.py``, the Celery worker's start-up)::

    from django_omnitenant import otel

    otel.instrument()  # the global tracer and meter providers

Nothing is patched. :func:`instrument` registers two listeners:

* a context listener: whenever code enters a tenant, the span current at that moment gets
  the attribute ``omnitenant.tenant_id``. The middleware enters the request's tenant
  inside the request span (of ``opentelemetry-instrumentation-django`` or any WSGI/ASGI
  instrumentation), so it carries the tenant; a tenant-aware Celery task's span (e.g. of
  ``opentelemetry-instrumentation-celery``) gets it when the task's body starts;
* an observer of :mod:`omnitenant_context.observe`, recording the metrics below with the
  meter ``omnitenant``.

=================================  =========  ============================================
metric                             kind       attributes
=================================  =========  ============================================
``omnitenant.lookups``             counter    ``omnitenant.lookup.kind`` (id, domain),
                                              ``omnitenant.lookup.result`` (hit, miss)
``omnitenant.lookup.duration``     histogram  the same; seconds
``omnitenant.path_switches``       counter    -
``omnitenant.provisioning.duration`` histogram ``omnitenant.isolation_type``,
                                              ``omnitenant.outcome``; seconds
``omnitenant.fleet_migrations``    counter    ``omnitenant.migration.result`` (up to date,
                                              migrated, failed, timed out, locked,
                                              not started): tenants of migratealltenants
``omnitenant.fleet_migration.duration`` histogram  the same; seconds (tenants that ran)
=================================  =========  ============================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from opentelemetry import metrics, trace

from omnitenant_context import ContextState, TenantContext
from omnitenant_context.observe import add_observer, remove_observer

__all__ = ["TENANT_ATTRIBUTE", "instrument", "uninstrument"]

#: The span attribute that carries the tenant id.
TENANT_ATTRIBUTE = "omnitenant.tenant_id"


def _stamp_current_span(state: ContextState) -> None:
    """Put the tenant of ``state`` on the span that is current, if it records."""
    tenant = state.tenant
    if tenant is None or state.master:
        return
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(TENANT_ATTRIBUTE, tenant.tenant_id)


class _SpanTenantListener:
    """Puts the tenant on the span that is current when code enters the tenant."""

    def context_changed(self, previous: ContextState, current: ContextState) -> None:
        _stamp_current_span(current)


# Fleet-migration results whose duration is a migration's (the others did not run).
_RAN = frozenset({"migrated", "failed", "timed out"})


@dataclass
class _MetricsObserver:
    """Turns omnitenant's events into OpenTelemetry instruments."""

    meter: metrics.Meter
    _record: dict[str, Callable[[float, Mapping[str, str]], None]] = field(init=False)

    def __post_init__(self) -> None:
        lookups = self.meter.create_counter(
            "omnitenant.lookups", unit="{lookup}", description="Tenant lookups by host or id."
        )
        lookup_duration = self.meter.create_histogram(
            "omnitenant.lookup.duration", unit="s", description="Time a tenant lookup took."
        )
        path_switches = self.meter.create_counter(
            "omnitenant.path_switches",
            unit="{switch}",
            description="SET search_path statements sent by the schema engine.",
        )
        provisioning = self.meter.create_histogram(
            "omnitenant.provisioning.duration",
            unit="s",
            description="Time making a new tenant's storage took, by outcome.",
        )

        fleet_migrations = self.meter.create_counter(
            "omnitenant.fleet_migrations",
            unit="{tenant}",
            description="Tenants of migratealltenants runs, by result.",
        )
        fleet_migration = self.meter.create_histogram(
            "omnitenant.fleet_migration.duration",
            unit="s",
            description="Time migrating one tenant took in migratealltenants, by result.",
        )

        def lookup(value: float, attributes: Mapping[str, str]) -> None:
            labels = {
                "omnitenant.lookup.kind": attributes.get("kind", ""),
                "omnitenant.lookup.result": attributes.get("result", ""),
            }
            lookups.add(1, labels)
            lookup_duration.record(value, labels)

        def path_switch(value: float, attributes: Mapping[str, str]) -> None:
            path_switches.add(int(value))

        def provisioned(value: float, attributes: Mapping[str, str]) -> None:
            provisioning.record(
                value,
                {
                    "omnitenant.isolation_type": attributes.get("isolation_type", ""),
                    "omnitenant.outcome": attributes.get("outcome", ""),
                },
            )

        def fleet_migrated(value: float, attributes: Mapping[str, str]) -> None:
            result = attributes.get("result", "")
            labels = {"omnitenant.migration.result": result}
            fleet_migrations.add(1, labels)
            if result in _RAN:
                fleet_migration.record(value, labels)

        def task_start(value: float, attributes: Mapping[str, str]) -> None:
            # Celery's task_prerun receivers run in the order they were connected, so the
            # task span may have started after omnitenant entered the task's tenant.
            _stamp_current_span(TenantContext.get_state())

        self._record = {
            "lookup": lookup,
            "path_switch": path_switch,
            "provisioning": provisioned,
            "task_start": task_start,
            "fleet_migration": fleet_migrated,
        }

    def observe(self, event: str, value: float, attributes: Mapping[str, str]) -> None:
        record = self._record.get(event)
        if record is not None:
            record(value, attributes)


@dataclass
class _Installed:
    listener: _SpanTenantListener
    observer: _MetricsObserver


_installed: _Installed | None = None


def instrument(*, meter_provider: metrics.MeterProvider | None = None) -> None:
    """Switch the tenant span attribute and the metrics on (again: replaces the first).

    ``meter_provider``: where the metrics go; the global provider when omitted. Spans are
    whatever span is current, from any tracer provider.
    """
    global _installed  # noqa: PLW0603 - one switch per process
    uninstrument()
    meter = metrics.get_meter("omnitenant", meter_provider=meter_provider)
    installed = _Installed(_SpanTenantListener(), _MetricsObserver(meter))
    TenantContext.add_listener(installed.listener)
    add_observer(installed.observer)
    _installed = installed


def uninstrument() -> None:
    """Switch it off; nothing happens when it is not on."""
    global _installed  # noqa: PLW0603 - one switch per process
    installed = _installed
    if installed is None:
        return
    TenantContext.remove_listener(installed.listener)
    remove_observer(installed.observer)
    _installed = None
