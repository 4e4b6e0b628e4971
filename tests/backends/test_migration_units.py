"""Tenant creation runs real migration histories: each migration ends like a commit.

The stand-in history (``broken_migrations.deferred``) is the shape Wagtail's has: a data
migration inserts rows joined by a foreign key (checked at commit), and a later migration
alters that table. Django's ``migrate`` commits between the two; creation runs the whole
chain in one transaction, where PostgreSQL refused the ``ALTER TABLE`` ("pending trigger
events") until each migration was made to end as its commit would have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from psycopg import sql

from django_omnitenant.utils import get_tenant_model
from omnitenant_backends import migrate_schema_template
from omnitenant_backends.conf import backend_settings
from omnitenant_context import ProvisioningError, TenantContext

pytestmark = pytest.mark.postgres

TenantFactory = Callable[..., Any]
DEFERRED = "tests.backends.broken_migrations.deferred.migrations"
DANGLING = "tests.backends.broken_migrations.dangling.migrations"


def config(**changes: Any) -> override_settings:
    return override_settings(OMNITENANT_CONFIG={**settings.OMNITENANT_CONFIG, **changes})


def schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_catalog.pg_namespace")
        return {str(row[0]) for row in cursor.fetchall()}


def template_migrations() -> set[tuple[str, str]]:
    template = backend_settings().schema_template
    assert template
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT app, name FROM {}").format(
                sql.Identifier(template, "django_migrations")
            )
        )
        return {(str(app), str(name)) for app, name in cursor.fetchall()}


@pytest.fixture(params=["clone", "migrate"])
def creation_path(request: pytest.FixtureRequest, live_db: None) -> Iterator[str]:
    """Once through the template (migrated in one transaction too), once migrating."""
    path: str = request.param
    if path == "clone":
        migrate_schema_template()
        yield path
        # Other tests expect tenantapp's own history in the template: unapply the
        # stand-in's migrations while Django still knows them.
        with override_settings(MIGRATION_MODULES={"tenantapp": DEFERRED}):
            migrate_schema_template(app_label="tenantapp", migration_name="0001_initial")
        template = backend_settings().schema_template
        assert template
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT count(*) FROM {}").format(
                    sql.Identifier(template, "tenantapp_note")
                )
            )
            assert cursor.fetchone() == (0,), "the template keeps no row of the stand-in"
    else:
        with config(CLONE_SCHEMA_TEMPLATE=False):
            yield path


def test_a_data_migration_then_an_alter_of_its_table_creates_the_tenant(
    tenant_factory: TenantFactory, creation_path: str
) -> None:
    with override_settings(MIGRATION_MODULES={"tenantapp": DEFERRED}):
        tenant = tenant_factory("units_real_history")
        with TenantContext.use_tenant(tenant), connection.cursor() as cursor:
            cursor.execute(
                "SELECT b.title, n.text, n.pinned FROM tenantapp_note n"
                " JOIN tenantapp_notebook b ON b.id = n.notebook_id"
            )
            rows = cursor.fetchall()
            cursor.execute("SELECT name FROM django_migrations WHERE app = 'tenantapp'")
            applied = {str(row[0]) for row in cursor.fetchall()}
    assert rows == [("Welcome", "Seeded by a data migration", False)]
    assert applied == {"0001_initial", "0002_seed", "0003_note_pinned"}


def test_a_deferred_violation_in_a_migration_still_fails_creation_and_leaves_nothing(
    tenant_factory: TenantFactory, creation_path: str
) -> None:
    before = schemas()
    template_before = template_migrations() if creation_path == "clone" else set()
    with (
        override_settings(MIGRATION_MODULES={"tenantapp": DANGLING}),
        pytest.raises(ProvisioningError, match="tenantapp_note"),
    ):
        tenant_factory("units_dangling")
    assert schemas() == before
    assert not get_tenant_model().objects.filter(tenant_id="units_dangling").exists()
    if creation_path == "clone":
        assert template_migrations() == template_before


def dangling_late_then_end_of_unit(end_migration_unit: Callable[[Any], None]) -> None:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO units_child VALUES (4, 99, 1)")
        end_migration_unit(connection)


def test_deferrable_constraints_start_each_migration_as_declared(live_db: None) -> None:
    """After a unit ends, INITIALLY DEFERRED ones are deferred again, IMMEDIATE ones not."""
    from omnitenant_backends.postgresql.schema import end_migration_unit

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE units_parent (id int PRIMARY KEY);"
            "CREATE TEMPORARY TABLE units_child (id int PRIMARY KEY,"
            " late int REFERENCES units_parent DEFERRABLE INITIALLY DEFERRED,"
            " early int CONSTRAINT units_early REFERENCES units_parent"
            " DEFERRABLE INITIALLY IMMEDIATE)"
        )
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO units_parent VALUES (1)")
                cursor.execute("INSERT INTO units_child VALUES (1, 1, 1)")
            end_migration_unit(connection)
            # Deferred again: a dangling 'late' is accepted until the unit ends.
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO units_child VALUES (2, 99, 1)")
                cursor.execute("DELETE FROM units_child WHERE id = 2")
            # Immediate as declared: a dangling 'early' is refused at once.
            with pytest.raises(IntegrityError), transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("INSERT INTO units_child VALUES (3, 1, 99)")
            with pytest.raises(IntegrityError):
                dangling_late_then_end_of_unit(end_migration_unit)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS units_child, units_parent")


def test_a_template_that_cannot_be_migrated_does_not_block_creation(
    tenant_factory: TenantFactory, live_db: None
) -> None:
    template = backend_settings().schema_template
    assert template
    migrate_schema_template()
    with connection.cursor() as cursor:
        # Something in the template's way of the next release's migration.
        cursor.execute(
            sql.SQL("CREATE TABLE {} (id int)").format(
                sql.Identifier(template, "tenantapp_release_marker")
            )
        )
    try:
        upgraded = "tests.backends.broken_migrations.upgraded.migrations"
        with override_settings(MIGRATION_MODULES={"tenantapp": upgraded}):
            tenant = tenant_factory("units_template_blocked")
            with TenantContext.use_tenant(tenant), connection.cursor() as cursor:
                cursor.execute("SELECT release FROM tenantapp_release_marker")
                assert cursor.fetchall() == [("2.0",)]  # migrated, not cloned
        # The template's failed migration was rolled back with its savepoint.
        assert ("tenantapp", "0002_release_marker") not in template_migrations()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP TABLE {}").format(
                    sql.Identifier(template, "tenantapp_release_marker")
                )
            )
