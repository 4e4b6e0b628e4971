"""Database per tenant on SQLite files and on PostgreSQL databases."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connections
from django.test import override_settings
from psycopg import sql

from django_omnitenant.utils import get_tenant_backend, get_tenant_model
from omnitenant_backends import (
    DatabaseTenantBackend,
    is_tenant_database_alias,
    tenant_database_alias,
    tenant_database_settings,
)
from omnitenant_backends.conf import OmnitenantConfigurationError, backend_settings
from omnitenant_backends.signals import tenant_created
from omnitenant_context import ProvisioningError, TenantContext
from tests.support import per_run
from tests.tenantapp.models import Note

pytestmark = pytest.mark.postgres

PG_ENGINE = "django.db.backends.postgresql"
# Databases live on the server, outside this run's test database: named per run.
DB_PG = per_run("omnitenant_t_db_pg")
DB_FAIL_PG = per_run("omnitenant_t_db_fail_pg")
TAKEN = per_run("omnitenant_t_taken")
TPL_SOURCE = per_run("omnitenant_t_tpl_source")
DB_FROM_TPL = per_run("omnitenant_t_db_from_tpl")


def _drop_database(name: str) -> sql.Composed:
    return sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))


def _create_database(name: str) -> sql.Composed:
    return sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))


def _pg_config(name: str) -> dict[str, Any]:
    master = settings.DATABASES["default"]
    return {"ENGINE": PG_ENGINE, "NAME": name, "HOST": master["HOST"], "USER": master["USER"]}


def _admin(dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
    """A direct connection to the test server, outside Django."""
    master = settings.DATABASES["default"]
    return psycopg.connect(
        host=str(master["HOST"]), user=str(master["USER"]), dbname=dbname, autocommit=True
    )


def _database_exists(name: str) -> bool:
    with _admin() as conn:
        row = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [name]).fetchone()
    return bool(row and row[0])


def test_sqlite_tenant_gets_its_own_file_and_tables(tenant_factory: Any) -> None:
    tenant = tenant_factory("db_lite", "database")
    entry = tenant_database_settings(tenant)
    path = Path(entry["NAME"])
    assert entry["ENGINE"] == "django.db.backends.sqlite3"
    assert path.parent == backend_settings().sqlite_directory
    assert path.is_file()
    with TenantContext.use_tenant(tenant):
        Note.objects.create(text="in sqlite")
        assert Note.objects.using(tenant.database_alias).count() == 1
    assert connections[tenant.database_alias].vendor == "sqlite"


def test_postgres_tenant_gets_its_own_database(tenant_factory: Any) -> None:
    tenant = tenant_factory("db_pg", "database", database_config=_pg_config(DB_PG))
    assert _database_exists(DB_PG)
    with TenantContext.use_tenant(tenant):
        Note.objects.create(text="in postgres")
        # The master tables stay reachable: the router sends them to the master.
        assert get_tenant_model().objects.filter(tenant_id="db_pg").exists()
    with connections[tenant.database_alias].cursor() as cursor:
        cursor.execute("SELECT current_database()")
        assert cursor.fetchone() == (DB_PG,)
    get_tenant_backend(tenant).delete(drop_data=True)
    assert not _database_exists(DB_PG)


def test_registration_never_edits_settings_databases(tenant_factory: Any) -> None:
    before = dict(settings.DATABASES)
    tenant = tenant_factory("db_reg", "database")
    alias = tenant_database_alias(tenant)
    assert alias == "tenant_db_reg"
    assert is_tenant_database_alias(alias)
    assert alias in connections.settings
    assert alias not in settings.DATABASES
    assert dict(settings.DATABASES) == before


def test_alias_is_usable_from_a_thread_that_never_saw_the_tenant(tenant_factory: Any) -> None:
    tenant = tenant_factory("db_thread", "database")
    with TenantContext.use_tenant(tenant):
        Note.objects.create(text="from main thread")
    counts: list[int] = []

    def worker() -> None:
        try:
            with TenantContext.use_tenant(tenant):
                counts.append(Note.objects.count())
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert counts == [1]


@pytest.fixture
def three_sqlite_tenants(tenant_factory: Any) -> list[Any]:
    return [tenant_factory(f"db_lru_{i}", "database") for i in range(3)]


def test_open_tenant_connections_are_bounded_least_recently_used_first(
    three_sqlite_tenants: list[Any],
) -> None:
    config = {**settings.OMNITENANT_CONFIG, "MAX_OPEN_TENANT_CONNECTIONS": 2}
    first, second, third = three_sqlite_tenants
    with override_settings(OMNITENANT_CONFIG=config):
        for tenant in (first, second, first, third):
            with TenantContext.use_tenant(tenant):
                Note.objects.exists()
        # `second` was used least recently when `third` arrived: only it was closed, and
        # its alias left the connection handler (nothing Django walks keeps it).
        assert second.database_alias not in connections.settings
        assert connections[first.database_alias].connection is not None
        assert connections[third.database_alias].connection is not None
        with TenantContext.use_tenant(second):
            assert Note.objects.count() == 0  # a closed alias reconnects transparently


def test_failed_provisioning_leaves_no_file_no_database_and_no_row(live_db: None) -> None:
    tenant_model = get_tenant_model()

    def refuse(**kwargs: Any) -> None:
        raise RuntimeError("seed data failed")

    for tenant_id, config in (
        ("db_fail_lite", {}),
        ("db_fail_pg", _pg_config(DB_FAIL_PG)),
    ):
        tenant = tenant_model.objects.create(
            tenant_id=tenant_id, name="x", isolation_type="database", database_config=config
        )
        entry = tenant_database_settings(tenant)
        tenant_created.connect(refuse)
        try:
            with pytest.raises(ProvisioningError, match="seed data failed"):
                get_tenant_backend(tenant).create(run_migrations=True)
        finally:
            tenant_created.disconnect(refuse)
        assert not tenant_model.objects.filter(tenant_id=tenant_id).exists()
        assert not is_tenant_database_alias(tenant.database_alias)
        if config:
            assert not _database_exists(entry["NAME"])
        else:
            assert not Path(entry["NAME"]).exists()


def test_existing_file_is_neither_adopted_nor_removed(live_db: None) -> None:
    tenant = get_tenant_model().objects.create(
        tenant_id="db_exists", name="x", isolation_type="database"
    )
    path = Path(tenant_database_settings(tenant)["NAME"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"somebody else's data")
    try:
        with pytest.raises(ProvisioningError, match="exists"):
            get_tenant_backend(tenant).create()
        assert path.read_bytes() == b"somebody else's data"
    finally:
        path.unlink()


def test_existing_postgres_database_is_neither_adopted_nor_dropped(live_db: None) -> None:
    with _admin() as conn:
        conn.execute(_drop_database(TAKEN))
        conn.execute(_create_database(TAKEN))
    try:
        tenant = get_tenant_model().objects.create(
            tenant_id="db_taken",
            name="x",
            isolation_type="database",
            database_config=_pg_config(TAKEN),
        )
        with pytest.raises(ProvisioningError, match="already exists"):
            get_tenant_backend(tenant).create()
        assert _database_exists(TAKEN)
    finally:
        with _admin() as conn:
            conn.execute(_drop_database(TAKEN))


@pytest.mark.parametrize(
    "name",
    [
        'x"; DROP DATABASE postgres; --',
        "postgres",
        "template1",
        "UPPER",
        "a" * 64,
        "trailing\n",
        "",
        "pg_toast",
    ],
)
def test_hostile_database_names_are_refused_before_anything_runs(live_db: None, name: str) -> None:
    tenant = get_tenant_model()(
        tenant_id="db_hostile",
        name="x",
        isolation_type="database",
        database_config=_pg_config(name),
    )
    with pytest.raises(ProvisioningError, match=r"database name|system database|configured"):
        DatabaseTenantBackend(tenant).create()
    assert not get_tenant_model().objects.filter(tenant_id="db_hostile").exists()


def test_the_master_database_can_never_be_a_tenant_database(live_db: None) -> None:
    master_name = connections["default"].settings_dict["NAME"]
    tenant = get_tenant_model()(
        tenant_id="db_master",
        name="x",
        isolation_type="database",
        database_config=_pg_config(master_name),
    )
    with pytest.raises(ProvisioningError, match="never create or drop"):
        DatabaseTenantBackend(tenant).create()
    with pytest.raises(OmnitenantConfigurationError, match="never create or drop"):
        DatabaseTenantBackend(tenant).delete(drop_data=True)
    assert _database_exists(master_name)


def test_delete_keeps_data_unless_asked(tenant_factory: Callable[..., Any]) -> None:
    tenant = tenant_factory("db_keep", "database")
    path = Path(tenant_database_settings(tenant)["NAME"])
    get_tenant_backend(tenant).delete()
    assert path.exists()
    get_tenant_backend(tenant).delete(drop_data=True)
    assert not path.exists()


def test_postgres_tenant_can_be_created_from_a_template_database(live_db: None) -> None:
    with _admin() as conn:
        conn.execute(_drop_database(TPL_SOURCE))
        conn.execute(_create_database(TPL_SOURCE))
    with _admin(TPL_SOURCE) as conn:
        conn.execute("CREATE TABLE marker (value text)")
        conn.execute("INSERT INTO marker VALUES ('from the template')")
    config = {**settings.OMNITENANT_CONFIG, "POSTGRES_TEMPLATE_DATABASE": TPL_SOURCE}
    tenant = get_tenant_model().objects.create(
        tenant_id="db_from_tpl",
        name="x",
        isolation_type="database",
        database_config=_pg_config(DB_FROM_TPL),
    )
    try:
        with override_settings(OMNITENANT_CONFIG=config):
            get_tenant_backend(tenant).create(run_migrations=True)
        with connections[tenant.database_alias].cursor() as cursor:
            cursor.execute("SELECT value FROM marker")
            assert cursor.fetchall() == [("from the template",)]
        with TenantContext.use_tenant(tenant):
            assert Note.objects.count() == 0  # migrated on top of the template
    finally:
        get_tenant_backend(tenant).delete(drop_data=True)
        tenant.delete()
        with _admin() as conn:
            conn.execute(_drop_database(TPL_SOURCE))
    assert not _database_exists(DB_FROM_TPL)


@pytest.mark.parametrize(
    "engine",
    [
        "django.db.backends.postgresql",
        "omnitenant_backends.postgresql",
        # The Django app's re-export: recognised by its class, not by a list of paths.
        "django_omnitenant.backends.postgresql",
    ],
)
def test_every_spelling_of_a_postgres_engine_gets_the_omnitenant_engine(engine: str) -> None:
    tenant = get_tenant_model()(
        tenant_id="db_engine", name="x", isolation_type="database", database_config={}
    )
    tenant.database_config = {"ENGINE": engine, "HOST": "127.0.0.1"}
    entry = tenant_database_settings(tenant)
    assert entry["ENGINE"] == "omnitenant_backends.postgresql"
    assert entry["NAME"] == "db_engine"


def test_the_master_is_refused_under_the_django_app_engine_path(live_db: None) -> None:
    master_name = connections["default"].settings_dict["NAME"]
    config = {**_pg_config(master_name), "ENGINE": "django_omnitenant.backends.postgresql"}
    tenant = get_tenant_model()(
        tenant_id="db_master2", name="x", isolation_type="database", database_config=config
    )
    with pytest.raises(ProvisioningError, match="never create or drop"):
        DatabaseTenantBackend(tenant).create()
    assert _database_exists(master_name)
