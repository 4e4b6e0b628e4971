"""Database tenants and transactions: atomic() and ATOMIC_REQUESTS cover the tenant.

A database tenant's rows live on its own connection alias; these tests check that the
natural code (``transaction.atomic()`` with no alias, ``ATOMIC_REQUESTS`` on the master)
rolls the tenant's writes back too, on SQLite and on PostgreSQL, and that with the
following switched off a write that would escape the block is refused, not made.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.conf import settings
from django.core.signals import request_finished
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.transaction import TransactionManagementError
from django.test import Client, override_settings

from django_omnitenant.utils import get_domain_model
from omnitenant_backends._connections import holdings_count, release_idle
from omnitenant_backends.transactions import is_following_tenant_transactions
from omnitenant_context import TenantContext
from tests.tenantapp.models import Note

pytestmark = pytest.mark.postgres


def _pg_config(name: str) -> dict[str, Any]:
    master = settings.DATABASES["default"]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "HOST": master["HOST"],
        "USER": master["USER"],
    }


@pytest.fixture(params=["sqlite", "postgres"])
def db_tenant(request: pytest.FixtureRequest, tenant_factory: Any) -> Any:
    suffix = str(settings.DATABASES["default"]["NAME"])[-12:].replace("-", "_")
    if request.param == "sqlite":
        return tenant_factory("tx_lite", "database")
    return tenant_factory(
        "tx_pg", "database", database_config=_pg_config(f"omnitenant_tx_pg_{suffix}")
    )


def _count(tenant: Any) -> int:
    with TenantContext.use_tenant(tenant):
        return Note.objects.count()


class Failed(Exception):
    pass


def _write_and_fail(text: str, using: str | None = None) -> None:
    with transaction.atomic(using=using):
        Note.objects.create(text=text)
        raise Failed


def test_following_is_switched_on_by_the_app() -> None:
    assert is_following_tenant_transactions()


def test_a_rolled_back_atomic_block_keeps_none_of_the_tenants_rows(db_tenant: Any) -> None:
    with TenantContext.use_tenant(db_tenant):
        with pytest.raises(Failed):
            _write_and_fail("rolled back")
        assert Note.objects.count() == 0
        with transaction.atomic():
            Note.objects.create(text="committed")
    assert _count(db_tenant) == 1
    assert not connections[db_tenant.database_alias].in_atomic_block


def test_a_rolled_back_savepoint_undoes_only_its_own_writes(db_tenant: Any) -> None:
    with TenantContext.use_tenant(db_tenant), transaction.atomic():
        Note.objects.create(text="outer")
        with pytest.raises(Failed):
            _write_and_fail("inner")
    assert sorted(_texts(db_tenant)) == ["outer"]


def test_set_rollback_on_the_master_rolls_the_tenant_back(db_tenant: Any) -> None:
    with TenantContext.use_tenant(db_tenant), transaction.atomic():
        Note.objects.create(text="marked")
        transaction.set_rollback(True)
    assert _count(db_tenant) == 0


def test_atomic_as_a_decorator_follows_the_tenant_active_at_the_call(db_tenant: Any) -> None:
    @transaction.atomic
    def write_and_fail() -> None:
        Note.objects.create(text="decorated")
        raise Failed

    with TenantContext.use_tenant(db_tenant), pytest.raises(Failed):
        write_and_fail()
    assert _count(db_tenant) == 0


def test_atomic_requests_roll_back_a_failing_views_writes(
    db_tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    domain = f"{db_tenant.tenant_id.replace('_', '-')}.tx.example.test"
    get_domain_model().objects.create(tenant=db_tenant, domain=domain, is_primary=True)
    # Django reads ATOMIC_REQUESTS from the handler's settings when it wraps a view.
    monkeypatch.setitem(connections.settings[DEFAULT_DB_ALIAS], "ATOMIC_REQUESTS", True)
    client = Client(raise_request_exception=False)
    for _ in range(5):
        response = client.get("/write-then-fail/", HTTP_HOST=domain)
        assert response.status_code == 500
    assert _count(db_tenant) == 0


def test_without_following_a_write_that_would_escape_the_block_is_refused(
    db_tenant: Any,
) -> None:
    config = {**settings.OMNITENANT_CONFIG, "ATOMIC_FOLLOWS_TENANT": False}
    with override_settings(OMNITENANT_CONFIG=config):
        assert not is_following_tenant_transactions()
        with TenantContext.use_tenant(db_tenant):
            with pytest.raises(TransactionManagementError, match="survive a rollback"):
                _write_and_fail("escaping")
            # The one explicit way: a block on the tenant's own alias.
            with pytest.raises(Failed):
                _write_and_fail("rolled back", using=db_tenant.database_alias)
    assert is_following_tenant_transactions()
    assert _count(db_tenant) == 0


def test_entering_another_database_tenant_inside_a_block_is_refused(
    db_tenant: Any, tenant_factory: Any
) -> None:
    other = tenant_factory("tx_other", "database")
    with TenantContext.use_tenant(db_tenant), transaction.atomic():
        Note.objects.create(text="covered")
        with TenantContext.use_tenant(other), pytest.raises(TransactionManagementError):
            Note.objects.create(text="not covered")
        # Opening the block inside the other tenant covers it.
        with TenantContext.use_tenant(other), transaction.atomic():
            Note.objects.create(text="covered too")
    assert _count(db_tenant) == 1
    assert _count(other) == 1


def _texts(tenant: Any) -> list[str]:
    with TenantContext.use_tenant(tenant):
        return list(Note.objects.values_list("text", flat=True))


@pytest.fixture
def crowd(tenant_factory: Any) -> list[Any]:
    return [tenant_factory(f"tx_crowd_{index}", "database") for index in range(4)]


def test_an_iterator_survives_visiting_more_tenants_than_the_bound(
    db_tenant: Any, crowd: list[Any]
) -> None:
    with TenantContext.use_tenant(db_tenant):
        Note.objects.bulk_create(Note(text=f"row {index}") for index in range(10))
    config = {**settings.OMNITENANT_CONFIG, "MAX_OPEN_TENANT_CONNECTIONS": 2}
    seen: list[str] = []
    with override_settings(OMNITENANT_CONFIG=config):
        with TenantContext.use_tenant(db_tenant):
            rows = Note.objects.order_by("pk").values_list("text", flat=True)
            iterator = rows.iterator(chunk_size=2)
            for text in iterator:
                seen.append(text)
                for other in crowd:  # twice the bound, every row
                    with TenantContext.use_tenant(other):
                        Note.objects.exists()
        # Once the iterator is done its connection may be released again.
        for other in crowd:
            with TenantContext.use_tenant(other):
                Note.objects.exists()
        assert db_tenant.database_alias not in connections.settings
    assert seen == [f"row {index}" for index in range(10)]


# -- many database tenants in one process ---------------------------------------------


def _tenant_aliases_in_handler() -> list[str]:
    # What Django walks per request (close_old_connections, reset_queries, ATOMIC_REQUESTS).
    return [alias for alias in connections if alias.startswith("tenant_")]


@pytest.fixture
def eight_tenants(tenant_factory: Any) -> list[Any]:
    return [tenant_factory(f"tx_many_{index}", "database") for index in range(8)]


def test_the_handler_holds_no_more_tenant_aliases_than_the_bound(
    eight_tenants: list[Any],
) -> None:
    config = {**settings.OMNITENANT_CONFIG, "MAX_OPEN_TENANT_CONNECTIONS": 3}
    with override_settings(OMNITENANT_CONFIG=config):
        for _ in range(2):
            for tenant in eight_tenants:
                with TenantContext.use_tenant(tenant):
                    Note.objects.create(text=tenant.tenant_id)
                assert len(_tenant_aliases_in_handler()) <= 3
                assert holdings_count() <= 3
    for tenant in eight_tenants:
        assert _texts(tenant) == [tenant.tenant_id] * 2


def test_the_bound_is_per_process_and_other_threads_release_at_request_end(
    eight_tenants: list[Any],
) -> None:
    config = {**settings.OMNITENANT_CONFIG, "MAX_OPEN_TENANT_CONNECTIONS": 4}
    held_by_worker = threading.Event()
    worker_may_finish = threading.Event()
    worker_aliases: list[str] = []

    def worker() -> None:
        try:
            for tenant in eight_tenants[:3]:
                with TenantContext.use_tenant(tenant):
                    Note.objects.exists()
            worker_aliases.extend(t.database_alias for t in eight_tenants[:3])
            held_by_worker.set()
            worker_may_finish.wait(30)
            request_finished.send(sender=None)  # the end of the worker's request
            worker_aliases[:] = [a for a in worker_aliases if a in connections.settings]
        finally:
            connections.close_all()

    with override_settings(OMNITENANT_CONFIG=config):
        release_idle()
        thread = threading.Thread(target=worker)
        thread.start()
        assert held_by_worker.wait(30)
        for tenant in eight_tenants[3:]:
            with TenantContext.use_tenant(tenant):
                Note.objects.exists()
        worker_may_finish.set()
        thread.join(30)
        # This thread could not close the worker's connections; the worker released
        # them itself when its request ended, so the process is back within the bound.
        assert worker_aliases == []
        assert holdings_count() <= 4
        assert len(_tenant_aliases_in_handler()) <= 4
