"""New schema tenants cloned from the migrated template schema.

A clone must be indistinguishable from a tenant that ran its migrations: same tables,
columns, defaults, constraints, indexes and sequences, the same rows in the tables data
migrations fill, sequences that continue past the copied rows, and constraints (foreign
keys above all) that point into the clone's own schema, never into the template.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models.signals import pre_migrate
from django.test import override_settings
from psycopg import sql

from django_omnitenant.utils import get_tenant_model
from omnitenant_backends import migrate_schema_template, tenant_schema_names
from omnitenant_backends.conf import OmnitenantConfigurationError, backend_settings
from omnitenant_context import TenantContext
from tests.tenantapp.models import Note, Notebook

pytestmark = pytest.mark.postgres

TenantFactory = Callable[..., Any]


def config(**changes: Any) -> override_settings:
    """``OMNITENANT_CONFIG`` of the test settings with some keys changed."""
    return override_settings(OMNITENANT_CONFIG={**settings.OMNITENANT_CONFIG, **changes})


def template_name() -> str:
    name = backend_settings().schema_template
    assert name, "the test settings keep the default SCHEMA_TEMPLATE"
    return name


def fetch(query: str | sql.Composable, params: Any = None) -> list[tuple[Any, ...]]:
    """Rows of a query run with no tenant active (search_path: the public schema)."""
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return list(cursor.fetchall())


def execute(query: str | sql.Composable, params: Any = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(query, params)


def schema_exists(schema: str) -> bool:
    return bool(fetch("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", [schema]))


def migration_rows(schema: str) -> list[tuple[Any, ...]]:
    """Every row of a schema's django_migrations, timestamps included."""
    return fetch(
        sql.SQL("SELECT id, app, name, applied FROM {} ORDER BY id").format(
            sql.Identifier(schema, "django_migrations")
        )
    )


def catalog_structure(schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """The structure of a schema as the catalog reports it, with its own name replaced.

    Read through information_schema and pg_catalog, independently of how the backend
    inspects schemas. Columns are compared by position, not by attribute number: a
    migration that drops a column leaves a gap in the numbers, which a copy need not keep.
    """
    queries = {
        "tables": """
            SELECT table_name, table_type FROM information_schema.tables
             WHERE table_schema = %(schema)s""",
        "columns": """
            SELECT table_name, column_name,
                   row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position),
                   data_type, udt_name, character_maximum_length, numeric_precision,
                   numeric_scale, datetime_precision, is_nullable, column_default,
                   is_identity, identity_generation, identity_start, identity_increment,
                   identity_maximum, identity_minimum, identity_cycle, is_generated,
                   generation_expression, collation_name
              FROM information_schema.columns WHERE table_schema = %(schema)s""",
        "constraints": """
            SELECT t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid),
                   c.condeferrable, c.condeferred, c.convalidated, rn.nspname, rt.relname
              FROM pg_constraint c
              JOIN pg_namespace n ON n.oid = c.connamespace
              JOIN pg_class t ON t.oid = c.conrelid
              LEFT JOIN pg_class rt ON rt.oid = c.confrelid
              LEFT JOIN pg_namespace rn ON rn.oid = rt.relnamespace
             WHERE n.nspname = %(schema)s""",
        "indexes": """
            SELECT tablename, indexname, indexdef FROM pg_indexes
             WHERE schemaname = %(schema)s""",
        "sequences": """
            SELECT s.relname, q.seqtypid::regtype::text, q.seqstart, q.seqincrement,
                   q.seqmin, q.seqmax, q.seqcache, q.seqcycle, t.relname, a.attname,
                   d.deptype
              FROM pg_sequence q
              JOIN pg_class s ON s.oid = q.seqrelid
              JOIN pg_namespace n ON n.oid = s.relnamespace
              LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
              LEFT JOIN pg_class t ON t.oid = d.refobjid
              LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             WHERE n.nspname = %(schema)s""",
    }

    def normalise(value: Any) -> Any:
        if value == schema:
            return "<schema>"
        if isinstance(value, str):
            return value.replace(f'"{schema}".', "<schema>.").replace(f"{schema}.", "<schema>.")
        return value

    return {
        kind: sorted(
            (tuple(normalise(value) for value in row) for row in fetch(query, {"schema": schema})),
            key=repr,
        )
        for kind, query in queries.items()
    }


def shared_rows(schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows that migrations and their signals write, without surrogate keys."""
    return {
        "migrations": fetch(
            sql.SQL("SELECT app, name FROM {} ORDER BY app, name").format(
                sql.Identifier(schema, "django_migrations")
            )
        ),
        "content types": fetch(
            sql.SQL("SELECT app_label, model FROM {} ORDER BY 1, 2").format(
                sql.Identifier(schema, "django_content_type")
            )
        ),
        "permissions": fetch(
            sql.SQL(
                "SELECT c.app_label, c.model, p.codename, p.name FROM {} p JOIN {} c "
                "ON c.id = p.content_type_id ORDER BY 1, 2, 3"
            ).format(
                sql.Identifier(schema, "auth_permission"),
                sql.Identifier(schema, "django_content_type"),
            )
        ),
    }


@pytest.fixture
def template(live_db: None) -> Iterator[str]:
    """The template schema, fully migrated; dropped afterwards, so a test may change it.

    The next tenant creation (in any later test) makes it again from the migrations.
    """
    name = template_name()
    migrate_schema_template()
    yield name
    execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def migrate_runs() -> Iterator[list[str]]:
    """The database alias of every ``migrate`` run (one ``pre_migrate`` per app) seen."""
    seen: list[str] = []

    def record(*, using: str, **kwargs: Any) -> None:
        seen.append(using)

    pre_migrate.connect(record, weak=False, dispatch_uid="omnitenant-test-migrate-runs")
    try:
        yield seen
    finally:
        pre_migrate.disconnect(dispatch_uid="omnitenant-test-migrate-runs")


# -- a clone is the same as a migrated tenant ----------------------------------------


def test_cloned_schema_has_the_structure_and_rows_of_a_migrated_one(
    tenant_factory: TenantFactory, template: str
) -> None:
    cloned = tenant_factory("clonecmp_cloned")
    with config(CLONE_SCHEMA_TEMPLATE=False):
        migrated = tenant_factory("clonecmp_migrated")

    cloned_structure = catalog_structure(cloned.schema_name)
    assert cloned_structure == catalog_structure(migrated.schema_name)
    # The comparison covered the tenant app's tables, not two empty schemas.
    tables = {row[0] for row in cloned_structure["tables"]}
    assert {"tenantapp_note", "tenantapp_notebook", "django_migrations"} <= tables
    assert ("tenantapp_note", "note_text_idx") in {row[:2] for row in cloned_structure["indexes"]}
    assert shared_rows(cloned.schema_name) == shared_rows(migrated.schema_name)
    assert shared_rows(cloned.schema_name)["permissions"], "the signals filled auth_permission"

    # The clone copied the template's rows (timestamps and all); the other one ran them.
    assert migration_rows(cloned.schema_name) == migration_rows(template)
    assert migration_rows(migrated.schema_name) != migration_rows(template)


def test_cloning_runs_no_migration(
    tenant_factory: TenantFactory, template: str, migrate_runs: list[str]
) -> None:
    tenant_factory("clonecmp_quiet")
    assert migrate_runs == []
    with config(CLONE_SCHEMA_TEMPLATE=False):
        tenant_factory("clonecmp_loud")
    assert migrate_runs, "the migration path does run migrate (the receiver works)"


def test_constraints_of_a_clone_are_enforced_in_its_own_schema(
    tenant_factory: TenantFactory, template: str
) -> None:
    tenant = tenant_factory("clonecmp_rules")
    with TenantContext.use_tenant(tenant):
        notebook = Notebook.objects.create(title="Ideas")
        Note.objects.create(notebook=notebook, text="fine", priority=5)
        with pytest.raises(IntegrityError), transaction.atomic():
            Note.objects.create(text="out of range", priority=9)  # CHECK constraint
        with pytest.raises(IntegrityError), transaction.atomic():
            Notebook.objects.create(title="Ideas")  # UNIQUE constraint
        with pytest.raises(IntegrityError), transaction.atomic():
            # The foreign key is deferred: it fires when the block commits.
            Note.objects.create(notebook_id=notebook.pk + 1000, text="dangling")
        assert list(Note.objects.values_list("text", flat=True)) == ["fine"]

    references = fetch(
        """
        SELECT rn.nspname, rt.relname
          FROM pg_constraint c
          JOIN pg_class t ON t.oid = c.conrelid
          JOIN pg_namespace n ON n.oid = t.relnamespace
          JOIN pg_class rt ON rt.oid = c.confrelid
          JOIN pg_namespace rn ON rn.oid = rt.relnamespace
         WHERE c.contype = 'f' AND n.nspname = %s AND t.relname = 'tenantapp_note'
        """,
        [tenant.schema_name],
    )
    assert references == [(tenant.schema_name, "tenantapp_notebook")]
    # Nothing in the clone depends on an object of the template.
    leaks = fetch(
        """
        SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
          FROM pg_depend d
          JOIN pg_class r ON d.refclassid = 'pg_class'::regclass AND r.oid = d.refobjid
          JOIN pg_namespace rn ON rn.oid = r.relnamespace
         WHERE rn.nspname = %s
           AND ((d.classid = 'pg_class'::regclass AND d.objid IN (
                    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = %s))
             OR (d.classid = 'pg_constraint'::regclass AND d.objid IN (
                    SELECT k.oid FROM pg_constraint k JOIN pg_namespace n
                        ON n.oid = k.connamespace WHERE n.nspname = %s))
             OR (d.classid = 'pg_attrdef'::regclass AND d.objid IN (
                    SELECT a.oid FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid
                      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s)))
        """,
        [template, tenant.schema_name, tenant.schema_name, tenant.schema_name],
    )
    assert leaks == []


def test_a_clone_copies_the_template_rows_and_continues_its_sequences(
    tenant_factory: TenantFactory, template: str
) -> None:
    with TenantContext.use_schema(template):
        for title in ("one", "two", "three"):
            Notebook.objects.create(title=title)
        # An explicit id past the sequence, as a data migration might insert.
        Notebook.objects.create(id=10, title="explicit")
    template_sequence = sql.Identifier(template, "tenantapp_notebook_id_seq")
    template_state = fetch(
        sql.SQL("SELECT last_value, is_called FROM {}").format(template_sequence)
    )

    tenant = tenant_factory("clonecmp_ids")
    with TenantContext.use_tenant(tenant):
        assert sorted(Notebook.objects.values_list("id", "title")) == [
            (1, "one"),
            (2, "two"),
            (3, "three"),
            (10, "explicit"),
        ]
        fresh = Notebook.objects.create(title="fresh")
        assert fresh.pk == 11
        recorded = MigrationRecorder.Migration.objects.create(app="clonecmp", name="0001_x")
    assert recorded.pk > max(row[0] for row in migration_rows(template))
    # The tenant's inserts used its own sequences: the template's did not move.
    assert fetch(sql.SQL("SELECT last_value, is_called FROM {}").format(template_sequence)) == (
        template_state
    )
    with TenantContext.use_schema(template):
        assert not Notebook.objects.filter(title="fresh").exists()


def test_serial_identity_and_generated_columns_are_cloned(
    tenant_factory: TenantFactory, template: str
) -> None:
    legacy = sql.Identifier(template, "legacy_serial")
    always = sql.Identifier(template, "always_identity")
    execute(sql.SQL("CREATE TABLE {} (id serial PRIMARY KEY, label text NOT NULL)").format(legacy))
    execute(sql.SQL("INSERT INTO {} (label) VALUES ('a'), ('b'), ('c')").format(legacy))
    execute(
        sql.SQL(
            "CREATE TABLE {} (id int GENERATED ALWAYS AS IDENTITY (START WITH 100) PRIMARY KEY,"
            " n int NOT NULL, doubled int GENERATED ALWAYS AS (n * 2) STORED)"
        ).format(always)
    )
    execute(sql.SQL("INSERT INTO {} (n) VALUES (1), (2)").format(always))

    tenant = tenant_factory("clonecmp_legacy")
    schema = tenant.schema_name
    # The serial column draws from a sequence of the tenant's own.
    assert fetch("SELECT pg_get_serial_sequence(%s, 'id')", [f"{schema}.legacy_serial"]) == [
        (f"{schema}.legacy_serial_id_seq",)
    ]
    with TenantContext.use_tenant(tenant), connection.cursor() as cursor:
        cursor.execute("INSERT INTO legacy_serial (label) VALUES ('d') RETURNING id")
        assert cursor.fetchone() == (4,)
        cursor.execute("INSERT INTO always_identity (n) VALUES (3) RETURNING id, doubled")
        assert cursor.fetchone() == (102, 6)
        cursor.execute("SELECT id, n, doubled FROM always_identity ORDER BY id")
        assert cursor.fetchall() == [(100, 1, 2), (101, 2, 4), (102, 3, 6)]
    # The template's own sequence did not move.
    assert fetch(
        sql.SQL("SELECT last_value FROM {}").format(
            sql.Identifier(template, "legacy_serial_id_seq")
        )
    ) == [(3,)]


# -- the template is kept migrated ------------------------------------------------------


def test_template_is_migrated_again_when_it_lags_behind(
    tenant_factory: TenantFactory, template: str, migrate_runs: list[str]
) -> None:
    latest = fetch(
        sql.SQL("SELECT name FROM {} WHERE app = 'auth' ORDER BY name DESC LIMIT 1").format(
            sql.Identifier(template, "django_migrations")
        )
    )[0][0]
    # Forget the template's latest auth migration (re-applying it is harmless): the next
    # tenant creation must notice and apply it to the template before copying.
    execute(
        sql.SQL("DELETE FROM {} WHERE app = 'auth' AND name = %s").format(
            sql.Identifier(template, "django_migrations")
        ),
        [latest],
    )
    tenant = tenant_factory("clonecmp_lagging")
    assert migrate_runs, "the template was migrated"
    assert ("auth", latest) in {row[1:3] for row in migration_rows(template)}
    assert migration_rows(tenant.schema_name) == migration_rows(template)


def test_a_new_migration_reaches_the_template_and_the_clone(
    tenant_factory: TenantFactory, template: str
) -> None:
    with override_settings(
        MIGRATION_MODULES={"tenantapp": "tests.backends.broken_migrations.upgraded.migrations"}
    ):
        tenant = tenant_factory("clonecmp_upgraded")
    assert ("tenantapp", "0002_release_marker") in {row[1:3] for row in migration_rows(template)}
    assert migration_rows(tenant.schema_name) == migration_rows(template)
    with TenantContext.use_tenant(tenant), connection.cursor() as cursor:
        cursor.execute("INSERT INTO tenantapp_release_marker (release) VALUES ('2.1')")
        cursor.execute("SELECT id, release FROM tenantapp_release_marker ORDER BY id")
        assert cursor.fetchall() == [(1, "2.0"), (2, "2.1")]


def test_template_can_be_migrated_on_its_own(live_db: None, template: str) -> None:
    execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(template)))
    migrate_schema_template()
    names = {row[2] for row in migration_rows(template)}
    assert {"0001_initial", "0002_remove_content_type_name"} <= names
    before = migration_rows(template)
    migrate_schema_template()  # nothing left to apply: nothing changes
    assert migration_rows(template) == before


def test_without_a_template_tenants_are_migrated(
    tenant_factory: TenantFactory, template: str
) -> None:
    execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(template)))
    with config(SCHEMA_TEMPLATE=None):
        tenant = tenant_factory("clonecmp_untemplated")
        with pytest.raises(OmnitenantConfigurationError, match="SCHEMA_TEMPLATE"):
            migrate_schema_template()
    assert not schema_exists(template)
    with TenantContext.use_tenant(tenant):
        assert Note.objects.count() == 0


def test_tenant_schema_listing_leaves_out_the_template(
    tenant_factory: TenantFactory, template: str
) -> None:
    tenant = tenant_factory("clonecmp_listed")
    names = tenant_schema_names()
    assert tenant.schema_name in names
    assert template not in names
    assert "public" not in names
    assert not [name for name in names if name.startswith("pg_")]
    assert "information_schema" not in names


# -- what cannot be cloned is migrated instead ---------------------------------------

UNCLONABLE = {
    "view": (
        ["CREATE VIEW {t}.note_titles AS SELECT text FROM {t}.tenantapp_note"],
        "view note_titles",
    ),
    "function": (
        ["CREATE FUNCTION {t}.answer() RETURNS int LANGUAGE sql AS 'SELECT 42'"],
        "function",
    ),
    "standalone sequence": (
        ["CREATE SEQUENCE {t}.invoice_numbers"],
        "sequence invoice_numbers (owned by no column)",
    ),
    "enum type": (["CREATE TYPE {t}.mood AS ENUM ('ok', 'meh')"], "type mood"),
    "trigger": (
        [
            "CREATE FUNCTION public.omnitenant_test_touch() RETURNS trigger LANGUAGE plpgsql"
            " AS 'BEGIN RETURN NEW; END'",
            "CREATE TRIGGER note_touch BEFORE INSERT ON {t}.tenantapp_note"
            " FOR EACH ROW EXECUTE FUNCTION public.omnitenant_test_touch()",
        ],
        "trigger note_touch",
    ),
    "sequence shared by two columns": (
        [
            "CREATE TABLE {t}.ticket (id serial PRIMARY KEY)",
            "CREATE TABLE {t}.stub (n int DEFAULT nextval('{t}.ticket_id_seq'))",
        ],
        "sequence ticket_id_seq (used outside",
    ),
    # Found only by comparing the copy with the template afterwards.
    "table storage option": (
        ["ALTER TABLE {t}.tenantapp_note SET (fillfactor = 70)"],
        "differs from the template",
    ),
    "table privilege": (
        ["GRANT SELECT ON {t}.tenantapp_note TO PUBLIC"],
        "differs from the template",
    ),
    "clustered index": (
        ["ALTER TABLE {t}.tenantapp_note CLUSTER ON note_text_idx"],
        "differs from the template",
    ),
}


@pytest.mark.parametrize("kind", sorted(UNCLONABLE))
def test_a_template_that_cannot_be_cloned_faithfully_is_migrated_instead(
    tenant_factory: TenantFactory,
    template: str,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    statements, reason = UNCLONABLE[kind]
    try:
        for statement in statements:
            # Test-owned DDL; the template's name passed the identifier rule.
            execute(statement.format(t=template))
        with caplog.at_level(logging.WARNING, logger="omnitenant.backends"):
            tenant = tenant_factory(f"clonecmp_{kind.replace(' ', '_')}")
    finally:
        execute("DROP FUNCTION IF EXISTS public.omnitenant_test_touch() CASCADE")

    assert any(
        "migrated instead of cloned" in record.getMessage() and reason in record.getMessage()
        for record in caplog.records
    ), [record.getMessage() for record in caplog.records]
    # Migrated, not copied: its own migration rows, nothing of the template's extras.
    assert migration_rows(tenant.schema_name) != migration_rows(template)
    tables = {row[0] for row in catalog_structure(tenant.schema_name)["tables"]}
    assert "tenantapp_note" in tables
    assert not tables & {"note_titles", "ticket", "stub"}
    with TenantContext.use_tenant(tenant):
        Note.objects.create(text="works")
        assert Note.objects.count() == 1


def test_clone_and_tenant_model_rows_stay_apart(
    tenant_factory: TenantFactory, template: str
) -> None:
    tenant = tenant_factory("clonecmp_rows")
    # The tenant's row lives in the master schema only, never in a copied table.
    assert get_tenant_model().objects.filter(tenant_id="clonecmp_rows").exists()
    tables = {row[0] for row in catalog_structure(tenant.schema_name)["tables"]}
    assert not {name for name in tables if name.startswith("testapp_")}


# -- what only looks different is cloned ------------------------------------------------

# Both were found on Wagtail's schema (issue 11): PostgreSQL keeps an index's column name
# from when the index was made, and prints a re-parsed IN-list predicate differently.
LOOKS_DIFFERENT = {
    "index kept its name after a column rename": [
        "ALTER TABLE {t}.tenantapp_note ADD COLUMN headline varchar(20)",
        "CREATE UNIQUE INDEX note_headline_uniq ON {t}.tenantapp_note (headline)",
        "ALTER TABLE {t}.tenantapp_note RENAME COLUMN headline TO title",
    ],
    "partial index on an IN list": [
        "CREATE UNIQUE INDEX note_open_text ON {t}.tenantapp_note (text)"
        " WHERE text IN ('open', 'draft')",
    ],
}


@pytest.mark.parametrize("kind", sorted(LOOKS_DIFFERENT))
def test_what_postgresql_only_prints_differently_is_cloned(
    tenant_factory: TenantFactory,
    template: str,
    migrate_runs: list[str],
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    for statement in LOOKS_DIFFERENT[kind]:
        execute(statement.format(t=template))  # test-owned DDL on a checked name
    with caplog.at_level(logging.WARNING, logger="omnitenant.backends"):
        tenant = tenant_factory(f"clonecmp_looks_{len(kind)}")
    assert not [r.getMessage() for r in caplog.records if "instead of cloned" in r.getMessage()]
    assert migrate_runs == []
    # The scratch schema the comparison used is gone with its savepoint.
    assert not fetch("SELECT 1 FROM pg_namespace WHERE nspname LIKE 'omnitenant\\_scratch\\_%%'")
    assert migration_rows(tenant.schema_name) == migration_rows(template)
    # The index is there and enforced in the clone.
    column = "title" if "rename" in kind else "text"
    execute(
        sql.SQL(
            "INSERT INTO {} (text, priority, created, {}) VALUES ('open', 3, now(), 'x')"
        ).format(sql.Identifier(tenant.schema_name, "tenantapp_note"), sql.Identifier(column))
        if column == "title"
        else sql.SQL("INSERT INTO {} (text, priority, created) VALUES ('open', 3, now())").format(
            sql.Identifier(tenant.schema_name, "tenantapp_note")
        )
    )
    duplicate = (
        "INSERT INTO {} (text, priority, created, title) VALUES ('other', 3, now(), 'x')"
        if column == "title"
        else "INSERT INTO {} (text, priority, created) VALUES ('open', 3, now())"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        execute(sql.SQL(duplicate).format(sql.Identifier(tenant.schema_name, "tenantapp_note")))


def test_a_copied_index_that_really_differs_is_still_caught(
    tenant_factory: TenantFactory,
    template: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A copy that loses a partial index's predicate is no reprint: it is refused."""
    from omnitenant_backends import _clone as clone_module

    execute(
        f"CREATE UNIQUE INDEX note_open_text ON {template}.tenantapp_note (text)"
        " WHERE text IN ('open', 'draft')"
    )
    create_definition = clone_module._create_definition

    def lose_predicate(target: str, definition: Any) -> Any:
        if definition.name == "note_open_text":
            text = definition.definition.split(" WHERE ")[0]
            definition = type(definition)(**{**_fields(definition), "definition": text})
        return create_definition(target, definition)

    monkeypatch.setattr(clone_module, "_create_definition", lose_predicate)
    with caplog.at_level(logging.WARNING, logger="omnitenant.backends"):
        tenant = tenant_factory("clonecmp_lost_predicate")
    assert any(
        "differs from the template" in r.getMessage() and "note_open_text" in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]
    assert migration_rows(tenant.schema_name) != migration_rows(template)


def _fields(definition: Any) -> dict[str, Any]:
    return {name: getattr(definition, name) for name in definition.__slots__}
