"""The schema backend's life cycle: names it refuses, all-or-nothing creation, deletion.

Creation is exercised on both of its paths: copying the template schema (the default) and
running the migrations (``CLONE_SCHEMA_TEMPLATE=False``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models.signals import post_migrate
from django.test import override_settings
from psycopg import sql

from django_omnitenant.utils import get_tenant_backend, get_tenant_model
from omnitenant_backends import SchemaTenantBackend, migrate_schema_template
from omnitenant_backends import _clone as clone_module
from omnitenant_backends.conf import OmnitenantConfigurationError, backend_settings
from omnitenant_backends.signals import tenant_created, tenant_deleted
from omnitenant_context import InvalidIdentifier, ProvisioningError, TenantContext
from tests.support import PlainTenant, plain_tenant
from tests.tenantapp.models import Note

pytestmark = pytest.mark.postgres

TenantFactory = Callable[..., Any]


def config(**changes: Any) -> override_settings:
    return override_settings(OMNITENANT_CONFIG={**settings.OMNITENANT_CONFIG, **changes})


def template_name() -> str:
    name = backend_settings().schema_template
    assert name, "the test settings keep the default SCHEMA_TEMPLATE"
    return name


def schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_catalog.pg_namespace")
        return {str(row[0]) for row in cursor.fetchall()}


def tenant_row_exists(tenant_id: str) -> bool:
    return get_tenant_model().objects.filter(tenant_id=tenant_id).exists()


def template_migrations() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT app, name FROM {}").format(
                sql.Identifier(template_name(), "django_migrations")
            )
        )
        return {(str(app), str(name)) for app, name in cursor.fetchall()}


def drop_schema(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


# -- hostile names ----------------------------------------------------------------------

HOSTILE = [
    'x"; DROP SCHEMA public CASCADE; --',
    "pg_catalog",
    "public",
    "information_schema",
    "omnitenant_template",  # the default SCHEMA_TEMPLATE, which the test settings keep
    "a" * 64,
    "Upper",
    "trailing\n",
    "",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_schema_names_are_refused_before_anything_is_created(
    live_db: None, name: str
) -> None:
    before = schemas()
    tenant_model = get_tenant_model()

    with pytest.raises(ValidationError):
        tenant_model.objects.create(tenant_id=name, name="Hostile")
    if name:  # an empty schema_name means "the tenant id", which is valid here
        with pytest.raises(ValidationError):
            tenant_model.objects.create(tenant_id="hostile_ok", name="Hostile", schema_name=name)
    with pytest.raises((InvalidIdentifier, OmnitenantConfigurationError)):
        SchemaTenantBackend(PlainTenant(tenant_id="hostile_ok", schema_name=name))
    with pytest.raises((InvalidIdentifier, OmnitenantConfigurationError)):
        get_tenant_backend(PlainTenant(tenant_id="hostile_ok", schema_name=name))

    assert schemas() == before
    assert not tenant_row_exists(name)
    assert not tenant_row_exists("hostile_ok")
    assert "public" in schemas()


# -- all or nothing ---------------------------------------------------------------------


@pytest.fixture(params=["clone", "migrate"])
def creation_path(request: pytest.FixtureRequest, live_db: None) -> Iterator[str]:
    """Run the test once cloning the (migrated) template, once running migrations."""
    path: str = request.param
    if path == "clone":
        migrate_schema_template()
        yield path
    else:
        with config(CLONE_SCHEMA_TEMPLATE=False):
            yield path


def raise_on_created(**kwargs: Any) -> None:
    raise RuntimeError("tenant_created receiver failed")


def raise_on_post_migrate(**kwargs: Any) -> None:
    raise RuntimeError("post_migrate receiver failed")


def failing_migrations() -> AbstractContextManager[object]:
    return override_settings(
        MIGRATION_MODULES={"tenantapp": "tests.backends.broken_migrations.failing.migrations"}
    )


def test_failing_tenant_created_receiver_leaves_nothing(
    tenant_factory: TenantFactory, creation_path: str
) -> None:
    before = schemas()
    tenant_created.connect(raise_on_created, dispatch_uid="omnitenant-test-raise")
    try:
        with pytest.raises(ProvisioningError, match="tenant_created receiver failed"):
            tenant_factory("halfway_receiver")
    finally:
        tenant_created.disconnect(dispatch_uid="omnitenant-test-raise")
    assert "halfway_receiver" not in schemas()
    assert schemas() == before
    assert not tenant_row_exists("halfway_receiver")


def test_failing_migration_leaves_nothing(
    tenant_factory: TenantFactory, creation_path: str
) -> None:
    before = schemas()
    template_before = template_migrations() if creation_path == "clone" else set()
    with failing_migrations(), pytest.raises(ProvisioningError, match="omnitenant_no_such_table"):
        tenant_factory("halfway_migration")
    assert "halfway_migration" not in schemas()
    assert schemas() == before
    assert not tenant_row_exists("halfway_migration")
    if creation_path == "clone":
        # The template's own migration failed too, and was rolled back with the rest.
        assert template_migrations() == template_before
        assert ("tenantapp", "0002_broken") not in template_migrations()


def test_failing_post_migrate_receiver_leaves_nothing(tenant_factory: TenantFactory) -> None:
    before = schemas()
    post_migrate.connect(raise_on_post_migrate, dispatch_uid="omnitenant-test-raise")
    try:
        with config(CLONE_SCHEMA_TEMPLATE=False), pytest.raises(ProvisioningError):
            tenant_factory("halfway_signal")
    finally:
        post_migrate.disconnect(dispatch_uid="omnitenant-test-raise")
    assert schemas() == before
    assert not tenant_row_exists("halfway_signal")


def test_failure_in_the_middle_of_a_copy_leaves_nothing(
    tenant_factory: TenantFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate_schema_template()
    before = schemas()
    copied: list[str] = []
    copy_rows = clone_module._copy_rows

    def copy_rows_then_fail(template: str, target: str, table: Any) -> sql.Composable:
        # The fourth table's copy fails on the server, after the tables were made and
        # three of them filled in the same transaction.
        if len(copied) == 3:
            return sql.SQL("SELECT 1 / 0")
        copied.append(table.name)
        return copy_rows(template, target, table)

    monkeypatch.setattr(clone_module, "_copy_rows", copy_rows_then_fail)
    with pytest.raises(ProvisioningError, match="division by zero"):
        tenant_factory("halfway_copy")
    assert len(copied) == 3
    assert schemas() == before
    assert not tenant_row_exists("halfway_copy")


def test_existing_schema_is_neither_adopted_nor_dropped(tenant_factory: TenantFactory) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA squatted")
        cursor.execute("CREATE TABLE squatted.keep (id int)")
    try:
        with pytest.raises(ProvisioningError, match="already exists"):
            tenant_factory("taken", schema_name="squatted")
        assert not tenant_row_exists("taken")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM squatted.keep")
            assert cursor.fetchone() == (0,)
    finally:
        drop_schema("squatted")


def test_create_without_migrations_makes_an_empty_schema(live_db: None) -> None:
    tenant = plain_tenant("bare_schema")
    backend = SchemaTenantBackend(tenant)
    try:
        backend.create(run_migrations=False)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                ["bare_schema"],
            )
            assert cursor.fetchone() == (0,)
        backend.migrate()
        with TenantContext.use_tenant(tenant):
            Note.objects.create(text="after migrate")
            assert Note.objects.count() == 1
    finally:
        drop_schema("bare_schema")


def test_plain_dataclass_tenant_is_cloned_too(live_db: None) -> None:
    tenant = plain_tenant("plain_clone")
    backend = SchemaTenantBackend(tenant)
    try:
        backend.create(run_migrations=True)
        assert backend.exists()
        with TenantContext.use_tenant(tenant):
            Note.objects.create(text="plain")
            assert Note.objects.count() == 1
    finally:
        drop_schema("plain_clone")


# -- deletion ---------------------------------------------------------------------------


@pytest.fixture
def deletions() -> Iterator[list[bool]]:
    seen: list[bool] = []

    def record(*, dropped: bool, **kwargs: Any) -> None:
        seen.append(dropped)

    tenant_deleted.connect(record, weak=False, dispatch_uid="omnitenant-test-deleted")
    try:
        yield seen
    finally:
        tenant_deleted.disconnect(dispatch_uid="omnitenant-test-deleted")


def test_delete_keeps_the_schema_unless_asked(
    tenant_factory: TenantFactory, deletions: list[bool]
) -> None:
    tenant = tenant_factory("deleted_later")
    with TenantContext.use_tenant(tenant):
        Note.objects.create(text="keep me")
    backend = get_tenant_backend(tenant)

    backend.delete()
    assert "deleted_later" in schemas()
    with TenantContext.use_tenant(tenant):
        assert list(Note.objects.values_list("text", flat=True)) == ["keep me"]

    backend.delete(drop_data=True)
    assert "deleted_later" not in schemas()
    assert deletions == [False, True]


@pytest.mark.parametrize("shared", ["public", "omnitenant_template"])
def test_shared_schemas_can_never_be_dropped(live_db: None, shared: str) -> None:
    migrate_schema_template()
    with pytest.raises(OmnitenantConfigurationError, match="shared"):
        SchemaTenantBackend(PlainTenant(tenant_id="thief", schema_name=shared)).delete(
            drop_data=True
        )
    assert {"public", template_name()} <= schemas()


def test_a_schema_that_became_the_template_is_not_dropped(tenant_factory: TenantFactory) -> None:
    tenant = tenant_factory("became_template")
    backend = get_tenant_backend(tenant)
    # The settings changed after the backend was made: the name is checked again.
    with config(SCHEMA_TEMPLATE="became_template"):
        with pytest.raises(OmnitenantConfigurationError, match="shared"):
            backend.delete(drop_data=True)
    assert "became_template" in schemas()


def test_drop_of_one_tenant_leaves_the_others(tenant_factory: TenantFactory) -> None:
    first = tenant_factory("drop_first")
    second = tenant_factory("drop_second")
    with TenantContext.use_tenant(second):
        Note.objects.create(text="still here")
    get_tenant_backend(first).delete(drop_data=True)
    assert "drop_first" not in schemas()
    with TenantContext.use_tenant(second):
        assert Note.objects.count() == 1
    assert template_name() in schemas()
