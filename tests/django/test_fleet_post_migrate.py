"""``post_migrate`` in a fleet run: the same content types and permissions as Django's
``migrate``, every receiver still called, and Django's two handlers run only where a row
is missing (one query per tenant otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.models.signals import post_migrate
from django.test.utils import CaptureQueriesContext

from django_omnitenant.utils import get_tenant_backend
from omnitenant_backends.fleet_migrate import FleetMigrator
from tests.django.test_fleet_executor import query, release

pytestmark = pytest.mark.postgres


def type_and_permission_rows(tenant: Any) -> list[tuple[Any, ...]]:
    return sorted(
        query(
            tenant,
            "SELECT ct.app_label, ct.model, p.codename, p.name FROM django_content_type ct"
            " LEFT JOIN auth_permission p ON p.content_type_id = ct.id",
        ),
        key=repr,
    )


@pytest.fixture
def received() -> Iterator[list[tuple[str, str, bool]]]:
    """A third-party receiver: (app label, alias, whether the plan's apps came along)."""
    seen: list[tuple[str, str, bool]] = []

    def receiver(sender: Any, using: str, apps: Any, plan: Any, **kwargs: Any) -> None:
        seen.append((sender.label, using, apps is not None and plan is not None))

    post_migrate.connect(receiver)
    yield seen
    post_migrate.disconnect(receiver)


def statements(tenant: Any, migrator: FleetMigrator) -> list[str]:
    with get_tenant_backend(tenant).migration_scope() as alias:
        with CaptureQueriesContext(connections[alias]) as captured:
            migrator.migrate(alias)
    return [q["sql"] for q in captured.captured_queries]


def test_rows_match_djangos_migrate_and_handlers_run_only_where_rows_are_missing(
    tenant_factory: Any, received: list[tuple[str, str, bool]]
) -> None:
    tenants = [tenant_factory(f"fpm_{n}") for n in range(4)]
    twin = tenant_factory("fpm_twin")
    for tenant in tenants:
        # Tenants cloned from a template that once had the release keep its (stale) rows:
        # without them, every tenant lacks the new model's rows.
        query(
            tenant,
            "DELETE FROM auth_permission WHERE content_type_id IN"
            " (SELECT id FROM django_content_type WHERE model = 'stock')",
        )
        query(tenant, "DELETE FROM django_content_type WHERE model = 'stock'")
    # A tenant that lost a permission and one that lost a content type: Django's
    # handlers put them back, so must the fleet run.
    query(tenants[2], "DELETE FROM auth_permission WHERE codename = 'view_notebook'")
    query(
        tenants[3],
        "DELETE FROM auth_permission WHERE content_type_id IN"
        " (SELECT id FROM django_content_type WHERE model = 'notebook')",
    )
    query(tenants[3], "DELETE FROM django_content_type WHERE model = 'notebook'")
    with release():
        migrator = FleetMigrator(app_label="tenantapp", migration_name="0002")
        received.clear()
        first = statements(tenants[0], migrator)
        second = statements(tenants[1], migrator)
        statements(tenants[2], migrator)
        statements(tenants[3], migrator)
        with get_tenant_backend(twin).migration_scope() as alias:
            call_command("migrate", "tenantapp", "0002", database=alias, verbosity=0)
        expected = type_and_permission_rows(twin)
        assert ("tenantapp", "stock", "view_stock", "Can view stock") in expected
        for tenant in tenants:
            assert type_and_permission_rows(tenant) == expected, tenant.tenant_id
        # Every receiver other than Django's two got the signal once per app and tenant.
        labels = {label for label, _, _ in received}
        assert {"contenttypes", "auth", "tenantapp"} <= labels
        assert len(received) == 5 * len(labels)
        assert all(complete for _, _, complete in received)

        # The second tenant: one query told that only tenantapp (the new model) lacked
        # rows; the handlers of the other apps were left out.
        content_type_reads = [s for s in first if 'FROM "django_content_type"' in s]
        assert len([s for s in second if 'FROM "django_content_type"' in s]) < len(
            content_type_reads
        )
        post = migrator.prepared_plans[0].post_migrate
        assert post.handlers_left_out == 3 * (len(labels) - 1)

        # The rest of the release in a second tenant: one statement for the rows, no handler.
        nothing = FleetMigrator()
        statements(tenants[0], nothing)  # learns the rows
        runs_before = nothing.prepared_plans[0].post_migrate.handler_runs
        again = statements(tenants[1], nothing)
        assert nothing.prepared_plans[0].post_migrate.handler_runs == runs_before
        assert len([s for s in again if "django_content_type" in s]) == 1, again
        # And a tenant that lost a row gets it back from Django's handler.
        query(tenants[2], "DELETE FROM auth_permission WHERE codename = 'add_stock'")
        statements(tenants[2], nothing)
        assert type_and_permission_rows(tenants[2]) == expected


def test_an_asynchronous_receiver_gets_the_signal_sent_whole(tenant_factory: Any) -> None:
    tenants = [tenant_factory(f"fpm_async_{n}") for n in range(2)]
    called: list[str] = []

    async def receiver(sender: Any, using: str, **kwargs: Any) -> None:
        called.append(sender.label)

    post_migrate.connect(receiver)
    try:
        migrator = FleetMigrator()
        for tenant in tenants:
            statements(tenant, migrator)
    finally:
        post_migrate.disconnect(receiver)
    # send() runs asynchronous receivers after the others: only a whole send keeps that,
    # so Django's handlers ran in both tenants.
    assert migrator.prepared_plans[0].post_migrate.handler_runs == 2
    assert called.count("tenantapp") == 2
