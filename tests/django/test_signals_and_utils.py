"""Life-cycle signals, activation signals and the utils of the API reference."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_omnitenant import provisioning
from django_omnitenant.backends.cache_backend import CacheTenantBackend
from django_omnitenant.backends.database_backend import DatabaseTenantBackend
from django_omnitenant.backends.schema_backend import SchemaTenantBackend
from django_omnitenant.signals import (
    tenant_activated,
    tenant_created,
    tenant_deactivated,
    tenant_deleted,
    tenant_migrated,
)
from django_omnitenant.utils import (
    get_current_tenant,
    get_domain_model,
    get_tenant_backend,
    get_tenant_model,
)
from omnitenant_context import TenantContext
from tests.support import PlainTenant, plain_tenant
from tests.tenantapp.models import Note
from tests.testapp.models import Domain, Tenant


def test_models_and_backends_by_configuration() -> None:
    assert get_tenant_model() is Tenant
    assert get_domain_model() is Domain
    assert type(get_tenant_backend(plain_tenant("a"))) is SchemaTenantBackend
    assert type(get_tenant_backend(plain_tenant("b", "database"))) is DatabaseTenantBackend
    with pytest.raises(ImproperlyConfigured, match="isolation type 'table'"):
        get_tenant_backend(PlainTenant("c", "table"))


def test_get_current_tenant_follows_the_context() -> None:
    tenant = plain_tenant("current")
    assert get_current_tenant() is None
    with TenantContext.use_tenant(tenant):
        assert get_current_tenant() is tenant


@pytest.fixture
def received() -> Iterator[list[tuple[str, Any]]]:
    events: list[tuple[str, Any]] = []
    receivers = {}
    for name, signal in (
        ("created", tenant_created),
        ("migrated", tenant_migrated),
        ("deleted", tenant_deleted),
        ("activated", tenant_activated),
        ("deactivated", tenant_deactivated),
    ):

        def receiver(name: str = name, **kwargs: Any) -> None:
            tenant = kwargs["tenant"]
            extra = kwargs.get("dropped")
            events.append((name, tenant.tenant_id if extra is None else (tenant.tenant_id, extra)))

        receivers[name] = receiver
        signal.connect(receiver, weak=False)
    yield events
    for name, signal in (
        ("created", tenant_created),
        ("migrated", tenant_migrated),
        ("deleted", tenant_deleted),
        ("activated", tenant_activated),
        ("deactivated", tenant_deactivated),
    ):
        signal.disconnect(receivers[name])


def test_activation_signals_on_every_switch(received: list[tuple[str, Any]]) -> None:
    acme, globex = plain_tenant("acme"), plain_tenant("globex")
    with TenantContext.use_tenant(acme):
        with TenantContext.use_tenant(globex):
            pass
        with TenantContext.use_schema("reporting"):  # same tenant: no signal
            pass
    assert received == [
        ("activated", "acme"),
        ("deactivated", "acme"),
        ("activated", "globex"),
        ("deactivated", "globex"),
        ("activated", "acme"),
        ("deactivated", "acme"),
    ]


@pytest.mark.postgres
def test_created_is_sent_after_migrations_finished(live_db: None) -> None:
    seen: list[int] = []

    def count_notes(tenant: Any, **kwargs: Any) -> None:
        # The tenant's tables exist and are usable when the signal arrives.
        with TenantContext.use_tenant(tenant):
            seen.append(Note.objects.count())

    tenant = Tenant.objects.create(tenant_id="sig_created", name="S")
    tenant_created.connect(count_notes)
    try:
        backend = get_tenant_backend(tenant)
        backend.create(run_migrations=True)
        assert seen == [0]
        backend.migrate()
        backend.delete(drop_data=True)
    finally:
        tenant_created.disconnect(count_notes)
        tenant.delete()


@pytest.mark.postgres
def test_life_cycle_signal_order(live_db: None, received: list[tuple[str, Any]]) -> None:
    tenant = Tenant.objects.create(tenant_id="sig_order", name="S")
    try:
        backend = get_tenant_backend(tenant)
        backend.create(run_migrations=True)
        backend.migrate()
        backend.delete()
        backend.delete(drop_data=True)
    finally:
        tenant.delete()
    life_cycle = [event for event in received if event[0] not in ("activated", "deactivated")]
    assert life_cycle == [
        ("created", "sig_order"),
        ("migrated", "sig_order"),
        ("deleted", ("sig_order", False)),
        ("deleted", ("sig_order", True)),
    ]


@pytest.mark.postgres
def test_activate_and_deactivate_enter_and_leave_the_tenant(tenant_factory: Any) -> None:
    tenant = tenant_factory("sig_activate")
    backend = get_tenant_backend(tenant)
    backend.activate()
    try:
        assert get_current_tenant() is tenant
        Note.objects.create(text="via activate")
        with pytest.raises(RuntimeError, match="already activated"):
            backend.activate()
    finally:
        backend.deactivate()
    assert get_current_tenant() is None
    with pytest.raises(RuntimeError, match="was not activated"):
        backend.deactivate()


@pytest.mark.postgres
@pytest.mark.parametrize("isolation_type", ["schema", "database"])
def test_created_carries_the_saved_domains_primary_first(
    isolation_type: str, live_db: None
) -> None:
    seen: list[Any] = []

    def remember(tenant: Any, **kwargs: Any) -> None:
        seen.append(kwargs["domains"])

    tenant_created.connect(remember)
    tenant_id = f"sig_domains_{isolation_type}"
    hosts = [f"{isolation_type}-b.sig.test", f"{isolation_type}-a.sig.test"]
    try:
        tenant = provisioning.create_tenant(tenant_id, isolation_type=isolation_type, domains=hosts)
    finally:
        tenant_created.disconnect(remember)
    try:
        # The primary (the first given) before the others, whatever their names.
        assert seen == [(hosts[0], hosts[1])]
    finally:
        provisioning.purge_tenant(tenant, require_mark=False)


@pytest.mark.postgres
def test_created_carries_no_domains_when_none_were_saved(live_db: None) -> None:
    seen: list[Any] = []

    def remember(tenant: Any, **kwargs: Any) -> None:
        seen.append(kwargs["domains"])

    tenant = Tenant.objects.create(tenant_id="sig_no_domains", name="S")
    tenant_created.connect(remember)
    try:
        backend = get_tenant_backend(tenant)
        backend.create(run_migrations=True)
        CacheTenantBackend(plain_tenant("sig_plain")).create()  # not a row: no domains
        assert seen == [(), ()]
    finally:
        tenant_created.disconnect(remember)
        backend.delete(drop_data=True)
        tenant.delete()
