"""How each variant makes its database(s) and tenants, and what its view must return.

Every variant serves the same hosts (``t0001.bench.test``, ...) and the same view; the
tenant variants give each tenant ten ``Note`` rows titled after it (so every answer shows
whose rows it read), plain Django has one table with ten rows.

The first ``API_TENANTS`` tenants of a variant are made through the library's own API
(omnitenant: ``Tenant.objects.create`` + ``get_tenant_backend(t).create()``, which clones
its template schema or copies its template database; django-tenants: ``Client.save()`` +
its ``CloneSchema``). The rest are made in bulk by this benchmark, copying what the
library made: every table of the library's own template (``LIKE ... INCLUDING ALL`` plus
its rows) for schemas, ``CREATE DATABASE ... TEMPLATE`` / a file copy for databases, and
``bulk_create`` for the tenant and domain rows. A request only reads those rows and that
table, and this keeps 1,000 tenants to a few seconds; how long each library takes to make
a tenant is the provisioning benchmark's subject, not this one's.

Imported by the worker after ``django.setup()`` (and by ``run.py`` for names only).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from psycopg import sql

NOTES_PER_TENANT = 10
#: Tenants made through the library's API; the rest are made in bulk (see above).
API_TENANTS = 10
#: Tenants per bulk transaction.
BULK_BATCH = 100


def tenant_id(index: int) -> str:
    return f"t{index:04d}"


def host(index: int) -> str:
    return f"{tenant_id(index)}.bench.test"


def note_titles(owner: str) -> list[str]:
    return [f"{owner} note {number}" for number in range(NOTES_PER_TENANT)]


def _server_parameters(name: str) -> dict[str, Any]:
    entry = settings.DATABASES["default"]
    return {
        "host": entry["HOST"],
        "port": entry["PORT"],
        "user": entry["USER"],
        "password": entry["PASSWORD"] or None,
        "dbname": name,
        "autocommit": True,
    }


@contextmanager
def server_connection(name: str = "postgres") -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to database ``name`` (the maintenance one by default)."""
    with psycopg.connect(**_server_parameters(name)) as connection:
        yield connection


def create_database(name: str, template: str | None = None) -> None:
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    with server_connection() as connection:
        connection.execute(statement)


def insert_notes_sql(schema: str | None, owner: str) -> sql.Composed:
    table = sql.Identifier("notes_note")
    if schema is not None:
        table = sql.Identifier(schema, "notes_note")
    rows = sql.SQL(", ").join(
        sql.SQL("({}, 3)").format(sql.Literal(title)) for title in note_titles(owner)
    )
    return sql.SQL("INSERT INTO {} (title, priority) VALUES {}").format(table, rows)


def clone_schemas(alias: str, source: str, targets: Sequence[str]) -> None:
    """Copy every table of schema ``source`` (structure and rows) into new schemas.

    Each new schema also gets its tenant's ten notes. One transaction, one round trip.
    """
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, bool_or(column_name = 'id') FROM information_schema.columns"
            " WHERE table_schema = %s GROUP BY table_name ORDER BY table_name",
            [source],
        )
        tables = [(str(name), bool(has_id)) for name, has_id in cursor.fetchall()]
    if not tables:
        raise RuntimeError(f"The schema {source!r} has no tables to copy.")
    statements: list[sql.Composable] = []
    for target in targets:
        statements.append(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target)))
        for table, has_id in tables:
            new, old = sql.Identifier(target, table), sql.Identifier(source, table)
            statements.append(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(new, old))
            statements.append(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(new, old))
            if has_id:
                statements.append(
                    sql.SQL(
                        "SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence({}, 'id'),"
                        " max(id)) FROM {} HAVING max(id) IS NOT NULL"
                    ).format(sql.Literal(f'"{target}"."{table}"'), new)
                )
        statements.append(insert_notes_sql(target, target))
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL(";\n").join(statements))


class Variant:
    """One way of serving the view; :meth:`grow` adds tenants up to a count."""

    key: ClassVar[str]
    label: ClassVar[str]
    #: The variant's settings module, under ``reqbench.settings``.
    settings: ClassVar[str]
    #: Where its databases' names start (for the server's statistics and the clean-up).
    database_stem: ClassVar[str]

    def __init__(self) -> None:
        self.tenants = 0
        self.ready = False

    def prepare(self) -> None:
        """Create and migrate the master database (once)."""
        create_database(settings.DATABASES["default"]["NAME"])
        call_command("migrate", interactive=False, verbosity=0)

    def add_tenant(self, index: int) -> None:
        """Make tenant ``index`` through the library's API."""
        raise NotImplementedError

    def add_bulk(self, indexes: Sequence[int]) -> None:
        """Make these tenants in bulk (the same storage the API makes)."""
        for index in indexes:
            self.add_tenant(index)

    def grow(self, count: int) -> dict[str, Any]:
        """Make sure ``count`` tenants exist; return how long each step took."""
        started = time.perf_counter()
        if not self.ready:
            self.prepare()
            self.ready = True
        prepared = time.perf_counter()
        api_added = 0
        while self.tenants < min(count, API_TENANTS):
            self.add_tenant(self.tenants + 1)
            self.tenants += 1
            api_added += 1
        api_done = time.perf_counter()
        bulk_added = 0
        while self.tenants < count:
            batch = range(self.tenants + 1, min(count, self.tenants + BULK_BATCH) + 1)
            self.add_bulk(batch)
            self.tenants += len(batch)
            bulk_added += len(batch)
        connections.close_all()
        finished = time.perf_counter()
        return {
            "prepare_s": prepared - started,
            "api_added": api_added,
            "api_s": api_done - prepared,
            "bulk_added": bulk_added,
            "bulk_s": finished - api_done,
        }

    def expected_title(self, index: int) -> str:
        return note_titles(tenant_id(index))[0]

    def teardown(self) -> None:
        connections.close_all()


class Plain(Variant):
    key = "plain"
    label = "plain Django"
    settings = "plain"
    database_stem = "plain"

    def prepare(self) -> None:
        super().prepare()
        from reqbench.notes.models import Note

        Note.objects.bulk_create(Note(title=title) for title in note_titles("plain"))

    def add_tenant(self, index: int) -> None:
        return  # one table for every host

    def add_bulk(self, indexes: Sequence[int]) -> None:
        return

    def expected_title(self, index: int) -> str:
        return note_titles("plain")[0]


class OmniSchema(Variant):
    key = "omni_schema"
    label = "omnitenant, schemas"
    settings = "omni_schema"
    database_stem = "omni_schema"

    def tenant_fields(self, tid: str) -> dict[str, Any]:
        return {"tenant_id": tid, "name": tid}

    def add_tenant(self, index: int) -> None:
        from django_omnitenant.utils import get_domain_model, get_tenant_backend, get_tenant_model
        from omnitenant_context import TenantContext
        from reqbench.notes.models import Note

        tid = tenant_id(index)
        tenant = get_tenant_model().objects.create(**self.tenant_fields(tid))
        # Schemas: cloned from omnitenant's template schema (CLONE_SCHEMA_TEMPLATE);
        # databases: see the subclasses.
        get_tenant_backend(tenant).create(run_migrations=self.migrate_on_create)
        get_domain_model().objects.create(tenant=tenant, domain=host(index), is_primary=True)
        with TenantContext.use_tenant(tenant):
            Note.objects.bulk_create(Note(title=title) for title in note_titles(tid))

    migrate_on_create = True

    def add_rows(self, indexes: Sequence[int]) -> list[Any]:
        """The tenant and domain rows of ``indexes``, in bulk; returns the tenants."""
        from django_omnitenant.utils import get_domain_model, get_tenant_model

        tenant_model, domain_model = get_tenant_model(), get_domain_model()
        tenants = tenant_model.objects.bulk_create(
            tenant_model(**self.tenant_fields(tenant_id(index))) for index in indexes
        )
        domain_model.objects.bulk_create(
            domain_model(tenant=tenant, domain=host(index), is_primary=True)
            for tenant, index in zip(tenants, indexes, strict=True)
        )
        return tenants

    def add_bulk(self, indexes: Sequence[int]) -> None:
        from django.db import transaction

        from omnitenant_backends.conf import backend_settings

        # omnitenant's template schema, made and migrated with the first tenant.
        template = backend_settings().schema_template
        assert template is not None
        with transaction.atomic():
            self.add_rows(indexes)
            clone_schemas("default", template, [tenant_id(index) for index in indexes])


class OmniSchemaRedis(OmniSchema):
    key = "omni_redis"
    label = "omnitenant, schemas, Redis version"
    settings = "omni_schema_redis"
    database_stem = "omni_redis"

    def teardown(self) -> None:
        super().teardown()
        from django.core.cache import caches

        cache = caches["tenants"]
        client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        for key in client.scan_iter(match=f"{cache.key_prefix}*"):
            client.delete(key)


class OmniPostgresDatabases(OmniSchema):
    key = "omni_pgdb"
    label = "omnitenant, PostgreSQL databases"
    settings = "omni_pgdb"
    database_stem = "omni_pgdb"
    # CREATE DATABASE ... TEMPLATE the migrated template: nothing left to migrate.
    migrate_on_create = False

    def prepare(self) -> None:
        super().prepare()
        from django.test import override_settings

        from django_omnitenant.utils import get_tenant_backend, get_tenant_model

        # The template every tenant database is copied from, made and migrated by
        # omnitenant itself (as an unsaved tenant).
        config = settings.OMNITENANT_CONFIG
        template = get_tenant_model()(
            tenant_id="template",
            isolation_type="database",
            database_config={"NAME": config["POSTGRES_TEMPLATE_DATABASE"]},
        )
        with override_settings(OMNITENANT_CONFIG={**config, "POSTGRES_TEMPLATE_DATABASE": None}):
            get_tenant_backend(template).create(run_migrations=True)
        connections.close_all()  # CREATE DATABASE ... TEMPLATE needs it idle

    def database_name(self, tid: str) -> str:
        return f"{settings.DATABASE_PREFIX}{self.database_stem}_{tid}"

    def tenant_fields(self, tid: str) -> dict[str, Any]:
        return {
            "tenant_id": tid,
            "name": tid,
            "isolation_type": "database",
            "database_config": {"NAME": self.database_name(tid)},
        }

    def add_bulk(self, indexes: Sequence[int]) -> None:
        template = settings.OMNITENANT_CONFIG["POSTGRES_TEMPLATE_DATABASE"]
        for index in indexes:
            tid = tenant_id(index)
            create_database(self.database_name(tid), template)
            with server_connection(self.database_name(tid)) as connection:
                connection.execute(insert_notes_sql(None, tid))
        self.add_rows(indexes)


class OmniSqliteDatabases(OmniSchema):
    key = "omni_sqlite"
    label = "omnitenant, SQLite databases"
    settings = "omni_sqlite"
    database_stem = "omni_sqlite"

    def tenant_fields(self, tid: str) -> dict[str, Any]:
        return {"tenant_id": tid, "name": tid, "isolation_type": "database"}

    @staticmethod
    def database_file(tenant: Any) -> Path:
        from omnitenant_backends.database import tenant_database_settings

        return Path(tenant_database_settings(tenant)["NAME"])

    def prepare(self) -> None:
        Path(settings.SQLITE_DIRECTORY).mkdir(parents=True, exist_ok=True)
        super().prepare()
        from django_omnitenant.utils import get_tenant_backend, get_tenant_model

        # A migrated file that bulk-made tenants' files are copied from.
        template = get_tenant_model()(tenant_id="template", isolation_type="database")
        get_tenant_backend(template).create(run_migrations=True)
        connections.close_all()
        self.template_file = self.database_file(template)

    def add_bulk(self, indexes: Sequence[int]) -> None:
        tenants = self.add_rows(indexes)
        for tenant in tenants:
            path = self.database_file(tenant)
            shutil.copyfile(self.template_file, path)
            with sqlite3.connect(path) as connection:
                # Set-up files of a benchmark: no fsync per file (10,000 of them took
                # minutes on a shared disk), nothing left behind by these pragmas.
                connection.execute("PRAGMA synchronous = OFF")
                connection.execute("PRAGMA journal_mode = MEMORY")
                connection.executemany(
                    "INSERT INTO notes_note (title, priority) VALUES (?, 3)",
                    [(title,) for title in note_titles(tenant.tenant_id)],
                )
            connection.close()


class DjangoTenants(Variant):
    key = "dt"
    label = "django-tenants 4.0.1"
    settings = "django_tenants"
    database_stem = "dt"

    def prepare(self) -> None:
        create_database(settings.DATABASES["default"]["NAME"])
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        # The base schema new tenants are cloned from, migrated by django-tenants.
        base = settings.BENCH_BASE_SCHEMA
        with connections["default"].cursor() as cursor:
            cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(base)))
        call_command(
            "migrate_schemas", tenant=True, schema_name=base, interactive=False, verbosity=0
        )

    def add_tenant(self, index: int) -> None:
        from django_tenants.clone import CloneSchema
        from django_tenants.utils import get_tenant_domain_model, get_tenant_model, tenant_context

        from reqbench.notes.models import Note

        tid = tenant_id(index)
        client = get_tenant_model()(schema_name=tid, name=tid)
        # django-tenants' own clone of the migrated base schema (structure, rows and
        # migration records), instead of running migrate_schemas for each tenant.
        client.auto_create_schema = False
        client.save(verbosity=0)
        CloneSchema().clone_schema(settings.BENCH_BASE_SCHEMA, tid, "DATA")
        get_tenant_domain_model().objects.create(tenant=client, domain=host(index), is_primary=True)
        with tenant_context(client):
            Note.objects.bulk_create(Note(title=title) for title in note_titles(tid))

    def add_bulk(self, indexes: Sequence[int]) -> None:
        from django.db import transaction
        from django_tenants.utils import get_tenant_domain_model, get_tenant_model

        tenant_model, domain_model = get_tenant_model(), get_tenant_domain_model()
        with transaction.atomic():
            clients = tenant_model.objects.bulk_create(
                tenant_model(schema_name=tenant_id(index), name=tenant_id(index))
                for index in indexes
            )
            domain_model.objects.bulk_create(
                domain_model(tenant=client, domain=host(index), is_primary=True)
                for client, index in zip(clients, indexes, strict=True)
            )
            clone_schemas(
                "default", settings.BENCH_BASE_SCHEMA, [tenant_id(index) for index in indexes]
            )


VARIANTS: dict[str, type[Variant]] = {
    cls.key: cls
    for cls in (
        Plain,
        OmniSchema,
        OmniSchemaRedis,
        OmniPostgresDatabases,
        OmniSqliteDatabases,
        DjangoTenants,
    )
}
