"""Fail closed on the path: inside a schema tenant a name resolves in the tenant's schema
only. A table missing there is an error, never the master's rows (issue 10, item 1).

Each of these tests read or wrote the master's tables through the shared schema that sat
behind the tenant's on ``search_path`` before the path became the tenant's schema alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import ProgrammingError, connection, transaction
from django.test import override_settings
from psycopg import sql

from django_omnitenant.utils import get_tenant_backend, get_tenant_model
from omnitenant_backends.conf import OmnitenantConfigurationError, backend_settings
from omnitenant_backends.postgresql.base import DatabaseWrapper
from omnitenant_context import Tenant, TenantContext
from tests.tenantapp.models import Note

pytestmark = pytest.mark.postgres

TenantFactory = Callable[..., Any]


@pytest.fixture
def master_user(live_db: None) -> Iterator[User]:
    user = User.objects.create_user("master_admin", password="not-a-secret")  # noqa: S106
    yield user
    User.objects.filter(pk=user.pk).delete()


@pytest.fixture
def unmigrated_tenant(live_db: None) -> Iterator[Tenant]:
    """A schema tenant made like ``createtenant --no-migrate``: an empty schema."""
    tenant = get_tenant_model().objects.create(tenant_id="bare", name="Bare")
    backend = get_tenant_backend(tenant)
    backend.create(run_migrations=False)
    yield tenant
    backend.delete(drop_data=True)
    type(tenant).objects.filter(pk=tenant.pk).delete()


def drop_table(tenant: Tenant, table: str) -> None:
    with connection.cursor() as cursor:
        statement = sql.SQL("DROP TABLE {} CASCADE")
        cursor.execute(statement.format(sql.Identifier(tenant.schema_name, table)))


def test_unmigrated_tenant_reading_users_errors_instead_of_reading_the_masters(
    master_user: User, unmigrated_tenant: Tenant
) -> None:
    with TenantContext.use_tenant(unmigrated_tenant):
        with pytest.raises(ProgrammingError, match="auth_user"):
            list(User.objects.values_list("username", flat=True))
    # The master's user is still there and still the master's.
    assert list(User.objects.values_list("username", flat=True)) == ["master_admin"]


def test_unmigrated_tenant_sessions_never_reach_the_masters_table(
    unmigrated_tenant: Tenant,
) -> None:
    before = Session.objects.count()
    with TenantContext.use_tenant(unmigrated_tenant):
        store = SessionStore()
        store["user"] = "someone"
        with pytest.raises(ProgrammingError, match="django_session"):
            store.save()
    assert Session.objects.count() == before


def test_a_table_dropped_from_a_tenant_errors_instead_of_serving_the_masters(
    tenant_factory: TenantFactory, master_user: User
) -> None:
    acme = tenant_factory("fc_acme")
    drop_table(acme, "auth_user")
    drop_table(acme, "django_session")
    with TenantContext.use_tenant(acme):
        with pytest.raises(ProgrammingError, match="auth_user"):
            User.objects.filter(username="master_admin").exists()
        with pytest.raises(ProgrammingError, match="auth_user"):
            User.objects.create_user("intruder")
        store = SessionStore()
        store["k"] = "v"
        with pytest.raises(ProgrammingError, match="django_session"):
            store.save()
        # The tenant's own tables still work on the same connection.
        Note.objects.create(text="still mine")
        assert list(Note.objects.values_list("text", flat=True)) == ["still mine"]
    assert not User.objects.filter(username="intruder").exists()


def test_master_scoped_models_work_inside_a_tenant_on_the_same_session(
    tenant_factory: TenantFactory,
) -> None:
    acme = tenant_factory("fc_acme")
    tenant_model = get_tenant_model()
    pid_outside = None
    with TenantContext.use_tenant(acme):
        # The tenant lookups (a master app) inside the tenant; the tenant's own table too.
        assert tenant_model.objects.filter(tenant_id="fc_acme").exists()
        Note.objects.create(text="acme's")
        found = tenant_model.objects.get(tenant_id="fc_acme")
        assert found.name == acme.name
        assert list(Note.objects.values_list("text", flat=True)) == ["acme's"]
        assert connection.connection is not None
        pid_outside = connection.connection.info.backend_pid
        # A saved master row goes back through the master route.
        found.name = "Acme Renamed"
        found.save()
    assert tenant_model.objects.get(tenant_id="fc_acme").name == "Acme Renamed"
    assert connection.connection.info.backend_pid == pid_outside  # no second connection


def test_a_transaction_over_tenant_and_master_rows_rolls_back_both(
    tenant_factory: TenantFactory,
) -> None:
    acme = tenant_factory("fc_acme")
    tenant_model = get_tenant_model()

    def write_both_then_fail() -> None:
        with transaction.atomic(), TenantContext.use_tenant(acme):
            Note.objects.create(text="rolled back")
            tenant_model.objects.filter(tenant_id="fc_acme").update(name="Rolled Back")
            raise RuntimeError("undo both")

    with pytest.raises(RuntimeError):
        write_both_then_fail()
    assert tenant_model.objects.get(tenant_id="fc_acme").name == acme.name
    with TenantContext.use_tenant(acme):
        assert Note.objects.count() == 0


@pytest.fixture
def extension_schema(live_db: None, request: pytest.FixtureRequest) -> Iterator[str]:
    # One name per test: the engine checks a schema once per process.
    name = f"fc_ext_{request.node.name[5:25]}"
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        cursor.execute(sql.SQL("CREATE EXTENSION citext SCHEMA {}").format(sql.Identifier(name)))
    yield name
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def test_extension_schemas_are_on_every_path(
    tenant_factory: TenantFactory, extension_schema: str
) -> None:
    acme = tenant_factory("fc_acme")
    config = {**settings.OMNITENANT_CONFIG, "EXTENSION_SCHEMAS": [extension_schema]}
    with override_settings(OMNITENANT_CONFIG=config):
        connection.close()
        for scope in (TenantContext.use_tenant(acme), TenantContext.use_master_db()):
            with scope, connection.cursor() as cursor:
                # citext's type and its case-blind equality, found by unqualified names.
                cursor.execute("SELECT 'ABC'::citext = 'abc'::citext")
                assert cursor.fetchone() == (True,)
    connection.close()


def test_a_settings_change_reaches_an_open_connection_in_the_same_scope(
    tenant_factory: TenantFactory, extension_schema: str
) -> None:
    # The engine remembers the path of the last context state it saw; a scope that
    # outlives a change of OMNITENANT_CONFIG (the same state object before and after)
    # must still get the new path, on the connection already open.
    acme = tenant_factory("fc_acme")
    config = {**settings.OMNITENANT_CONFIG, "EXTENSION_SCHEMAS": [extension_schema]}
    for scope in (TenantContext.use_tenant(acme), TenantContext.use_master_db()):
        with scope:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_schemas(false)")
                (before,) = cursor.fetchone()
            assert extension_schema not in before
            with override_settings(OMNITENANT_CONFIG=config), connection.cursor() as cursor:
                cursor.execute("SELECT 'ABC'::citext = 'abc'::citext")
                assert cursor.fetchone() == (True,)
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_schemas(false)")
                (after,) = cursor.fetchone()
            assert after == before
    connection.close()


@pytest.mark.parametrize("pooled", [False, True], ids=["direct", "django_pool"])
def test_an_extension_schema_holding_a_table_is_refused(
    live_db: None, extension_schema: str, pooled: bool
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(extension_schema, "leak"))
        )
    config = {**settings.OMNITENANT_CONFIG, "EXTENSION_SCHEMAS": [extension_schema]}
    wrapper: Any = connection
    if pooled:  # a connection from Django's pool is checked as a new one is
        entry = {**connection.settings_dict, "OPTIONS": {"pool": {"min_size": 1, "max_size": 1}}}
        wrapper = DatabaseWrapper(entry, "pooled_extension_check")
    try:
        with override_settings(OMNITENANT_CONFIG=config):
            wrapper.close()
            with pytest.raises(OmnitenantConfigurationError, match=rf"{extension_schema}\.leak"):
                wrapper.ensure_connection()
            assert wrapper.connection is None
    finally:
        wrapper.close()
        if pooled:
            wrapper.close_pool()


def test_the_shared_schema_cannot_be_an_extension_schema(live_db: None) -> None:
    config = {**settings.OMNITENANT_CONFIG, "EXTENSION_SCHEMAS": ["public"]}
    with (
        override_settings(OMNITENANT_CONFIG=config),
        pytest.raises(OmnitenantConfigurationError, match="shared schema"),
    ):
        backend_settings()
