"""New tenant schemas copied from a migrated template schema instead of migrated.

Running every migration for each new tenant costs seconds once a project has a few hundred
of them; copying a schema that already went through them costs a few catalog queries and
one statement per object. The template (``OMNITENANT_CONFIG['SCHEMA_TEMPLATE']``) is an
ordinary schema that migrations run into exactly as they run into a tenant; it is created
on first need and migrated again whenever the migration graph has something it lacks.

A clone must be indistinguishable from a migrated tenant, or it is not made at all:

* before copying, the template is inspected for objects a clone cannot reproduce (views,
  functions, types, triggers, rules, policies, inheritance, sequences that no column owns,
  ...); if there are any, the tenant is migrated instead and a warning names them;
* after copying, the structure of both schemas (columns, defaults, constraints, indexes,
  sequences, privileges, comments) is compared, and nothing in the new schema may depend
  on an object of the template; on any difference the copy is rolled back to a savepoint
  and the tenant is migrated instead.

Everything runs inside the caller's transaction (the provisioning transaction): a failure
anywhere leaves neither the new schema nor a half-migrated template behind. Data migrations
ran once, in the template, with no tenant active: their rows are copied into every clone.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.management import call_command
from django.db import connections, transaction
from django.db.backends.utils import CursorWrapper
from django.db.migrations.executor import MigrationExecutor
from psycopg import sql

from omnitenant_backends._scope import exclusive_schema, migration_units
from omnitenant_backends.conf import OmnitenantConfigurationError, backend_settings
from omnitenant_context import TenantContext, check_identifier

__all__ = [
    "TemplateOutcome",
    "TemplateRefresh",
    "clone_schema",
    "cloning_template",
    "migrate_schema_template",
    "pending_template_migrations",
    "prepare_schema_template",
    "refresh_schema_template",
    "schema_template_name",
]

logger = logging.getLogger("omnitenant.backends")

# Sequences can only be of these three types; naming them from a fixed table keeps the
# type out of the catalog-text path.
_SEQUENCE_TYPES = {20: "bigint", 21: "smallint", 23: "integer"}


class CloneNotSupported(Exception):
    """The template holds something a clone would not reproduce exactly."""


# -- the template ---------------------------------------------------------------------


def schema_template_name() -> str | None:
    """The configured template schema (``None`` when ``SCHEMA_TEMPLATE`` is unset)."""
    conf = backend_settings()
    name = conf.schema_template
    if not name:
        return None
    check_identifier(name, what="schema template name")
    if name in {conf.public_schema, "information_schema"}:
        raise OmnitenantConfigurationError(
            f"OMNITENANT_CONFIG['SCHEMA_TEMPLATE'] is {name!r}, a shared schema; name a "
            "schema of its own (the default is 'omnitenant_template')."
        )
    return name


def cloning_template() -> str | None:
    """The template new schema tenants are cloned from, or ``None`` if cloning is off."""
    if not backend_settings().clone_schema_template:
        return None
    return schema_template_name()


def migrate_schema_template(*, using: str | None = None, **options: Any) -> None:
    """Create the template schema if it is missing and apply every migration to it.

    Run it after deploying new migrations (next to migrating the tenants) so the next
    tenant creation does not pay for them; creation also does it on its own when the
    template lags behind the migration graph. ``options`` go to Django's ``migrate``.

    Raises:
        OmnitenantConfigurationError: ``SCHEMA_TEMPLATE`` is not set or names a shared
            schema.
    """
    template = _required_template_name()
    alias = using or backend_settings().master_database
    with transaction.atomic(using=alias):
        _lock_template(alias, template)
        _create_schema_if_missing(alias, template)
        _migrate_template(alias, template, **options)


class TemplateOutcome(StrEnum):
    """What :func:`refresh_schema_template` did with the template."""

    MIGRATED = "migrated"  # brought up to date (or already was)
    REBUILT = "rebuilt"  # could not be migrated; made again from scratch
    SET_ASIDE = "set aside"  # could be neither: dropped, tenants are migrated instead


@dataclass(frozen=True, slots=True)
class TemplateRefresh:
    template: str
    outcome: TemplateOutcome
    #: Why the template was not simply migrated (empty when it was).
    reason: str = ""


def refresh_schema_template(*, using: str | None = None, **options: Any) -> TemplateRefresh:
    """Migrate the template, never letting it block the tenants.

    The template is only a shortcut for creating tenants, so a template that cannot be
    migrated (a hand-made object in the way, a migration that cannot run inside a
    transaction) must not stop a deployment: it is made again from scratch, and when
    even that fails it is dropped, after which new tenants are migrated (or get a fresh
    template when it can be made). The result says which; only errors of the server
    itself (the drop failing) are raised. ``options`` go to the first ``migrate`` only:
    a rebuild applies every migration for real.
    """
    template = _required_template_name()
    alias = using or backend_settings().master_database
    try:
        migrate_schema_template(using=alias, **options)
    except Exception as exc:  # reported in the result, and the rebuild is tried
        migrate_error = f"{type(exc).__name__}: {exc}"
        logger.warning("migrating the schema template %s failed: %s", template, migrate_error)
    else:
        return TemplateRefresh(template, TemplateOutcome.MIGRATED)
    try:
        with transaction.atomic(using=alias):
            _lock_template(alias, template)
            _drop_schema(alias, template)
            _create_schema_if_missing(alias, template)
            _migrate_template(alias, template)
    except Exception as exc:  # reported in the result; the template is set aside
        rebuild_error = f"{type(exc).__name__}: {exc}"
        logger.warning("rebuilding the schema template %s failed: %s", template, rebuild_error)
    else:
        return TemplateRefresh(template, TemplateOutcome.REBUILT, migrate_error)
    with transaction.atomic(using=alias):
        _lock_template(alias, template)
        _drop_schema(alias, template)
    return TemplateRefresh(
        template,
        TemplateOutcome.SET_ASIDE,
        f"{migrate_error}; rebuilding it failed too: {rebuild_error}",
    )


def _required_template_name() -> str:
    template = schema_template_name()
    if template is None:
        raise OmnitenantConfigurationError(
            "OMNITENANT_CONFIG['SCHEMA_TEMPLATE'] is not set: there is no template to migrate."
        )
    return template


def _drop_schema(alias: str, schema: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def prepare_schema_template(template: str, *, using: str) -> None:
    """Make sure ``template`` exists and is fully migrated, and keep it locked.

    Must run inside a transaction: the advisory lock taken here lasts until it ends, so no
    other process migrates the template while this one copies it.
    """
    _lock_template(using, template)
    created = _create_schema_if_missing(using, template)
    if created or pending_template_migrations(template, using=using):
        logger.info("migrating the schema template %s", template)
        _migrate_template(using, template)


def pending_template_migrations(template: str, *, using: str) -> list[str]:
    """The migrations ``migrate`` would apply to ``template`` now, as ``app.name``.

    Compares the template's own ``django_migrations`` with the migration graph, the way
    ``migrate`` plans its work; this reads the migration files and one table.
    """
    with _in_schema(template):
        executor = MigrationExecutor(connections[using])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def _lock_template(alias: str, template: str) -> None:
    # Serialises template migrations and copies across processes; released at the end
    # of the transaction, whatever happens.
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext(%s))",
            [f"omnitenant.schema_template:{template}"],
        )


def _create_schema_if_missing(alias: str, schema: str) -> bool:
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s)",
            [schema],
        )
        row = cursor.fetchone()
        if row and row[0]:
            return False
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    return True


def _migrate_template(alias: str, template: str, **options: Any) -> None:
    options.setdefault("verbosity", 0)
    # Inside the caller's transaction (for the template's lock): each migration still
    # ends as its own commit would have.
    with _in_schema(template), migration_units():
        call_command("migrate", database=alias, interactive=False, skip_checks=True, **options)


@contextmanager
def _in_schema(schema: str) -> Iterator[None]:
    # The engine sets search_path to this schema alone (no shared schema behind it) on
    # the next cursor: the router then migrates tenant and shared apps into it, and
    # catalog functions render the schema's own objects unqualified.
    with TenantContext.use_schema(schema), exclusive_schema():
        yield


# -- what a clone copies ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    unlogged: bool
    columns: tuple[str, ...]  # the columns that hold data (not generated), in order
    comment: str | None


@dataclass(frozen=True, slots=True)
class _OwnedSequence:
    name: str
    table: str
    column: str
    identity: str  # "a" (always), "d" (by default), "" for a serial column
    type_oid: int
    start: int
    increment: int
    minimum: int
    maximum: int
    cache: int
    cycle: bool


@dataclass(frozen=True, slots=True)
class _Definition:
    """An index or constraint, with its definition rendered from the catalog."""

    table: str
    name: str
    kind: str  # "index", or the constraint type: "p", "u", "x", "f"
    definition: str
    index_comment: str | None
    constraint_comment: str | None


@dataclass(frozen=True, slots=True)
class _Plan:
    tables: tuple[_Table, ...]
    sequences: tuple[_OwnedSequence, ...]
    definitions: tuple[_Definition, ...]
    fingerprint: tuple[str, ...]


def clone_schema(template: str, target: str, *, using: str) -> bool:
    """Copy ``template`` (structure and data) into the existing, empty schema ``target``.

    Returns ``False``, with nothing changed, when the template holds something a clone
    cannot reproduce exactly: the caller then runs the migrations instead. Run it inside a
    transaction, after :func:`prepare_schema_template`.
    """
    alias = using
    try:
        plan = _read_template(alias, template)
    except CloneNotSupported as exc:
        logger.warning("schema %s is migrated instead of cloned from %s: %s", target, template, exc)
        return False
    try:
        # A savepoint: a clone found wrong afterwards is undone, and the caller migrates.
        with transaction.atomic(using=alias):
            _copy(alias, template, target, plan)
            _verify(alias, template, target, plan)
    except CloneNotSupported as exc:
        logger.warning("schema %s is migrated instead of cloned from %s: %s", target, template, exc)
        return False
    return True


# -- reading the template ---------------------------------------------------------------

_UNSUPPORTED_SQL = """
WITH ns AS (SELECT %(ns)s::oid AS oid)
SELECT kind || ' ' || name FROM (
    SELECT CASE c.relkind
               WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
               WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index'
               WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'composite type'
               ELSE 'relation of kind ' || c.relkind::text END AS kind,
           c.relname::text AS name
      FROM pg_catalog.pg_class c, ns
     WHERE c.relnamespace = ns.oid AND c.relkind NOT IN ('r', 'S', 'i')
    UNION ALL
    SELECT 'function', p.oid::pg_catalog.regprocedure::text
      FROM pg_catalog.pg_proc p, ns WHERE p.pronamespace = ns.oid
    UNION ALL
    SELECT 'type', t.typname::text
      FROM pg_catalog.pg_type t, ns
     WHERE t.typnamespace = ns.oid AND t.typrelid = 0
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e
                        WHERE e.oid = t.typelem AND e.typrelid <> 0)
    UNION ALL
    SELECT 'operator', o.oprname::text
      FROM pg_catalog.pg_operator o, ns WHERE o.oprnamespace = ns.oid
    UNION ALL
    SELECT 'collation', k.collname::text
      FROM pg_catalog.pg_collation k, ns WHERE k.collnamespace = ns.oid
    UNION ALL
    SELECT 'conversion', v.conname::text
      FROM pg_catalog.pg_conversion v, ns WHERE v.connamespace = ns.oid
    UNION ALL
    SELECT 'operator class', oc.opcname::text
      FROM pg_catalog.pg_opclass oc, ns WHERE oc.opcnamespace = ns.oid
    UNION ALL
    SELECT 'operator family', f.opfname::text
      FROM pg_catalog.pg_opfamily f, ns WHERE f.opfnamespace = ns.oid
    UNION ALL
    SELECT 'text search configuration', s.cfgname::text
      FROM pg_catalog.pg_ts_config s, ns WHERE s.cfgnamespace = ns.oid
    UNION ALL
    SELECT 'text search dictionary', s.dictname::text
      FROM pg_catalog.pg_ts_dict s, ns WHERE s.dictnamespace = ns.oid
    UNION ALL
    SELECT 'text search parser', s.prsname::text
      FROM pg_catalog.pg_ts_parser s, ns WHERE s.prsnamespace = ns.oid
    UNION ALL
    SELECT 'text search template', s.tmplname::text
      FROM pg_catalog.pg_ts_template s, ns WHERE s.tmplnamespace = ns.oid
    UNION ALL
    SELECT 'extended statistics', s.stxname::text
      FROM pg_catalog.pg_statistic_ext s, ns WHERE s.stxnamespace = ns.oid
    UNION ALL
    SELECT 'extension', x.extname::text
      FROM pg_catalog.pg_extension x, ns WHERE x.extnamespace = ns.oid
    UNION ALL
    SELECT 'trigger', g.tgname::text || ' on ' || c.relname::text
      FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid, ns
     WHERE c.relnamespace = ns.oid AND NOT g.tgisinternal
    UNION ALL
    SELECT 'rule', r.rulename::text || ' on ' || c.relname::text
      FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class, ns
     WHERE c.relnamespace = ns.oid AND c.relkind = 'r'
    UNION ALL
    SELECT 'row security policy', p.polname::text || ' on ' || c.relname::text
      FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid, ns
     WHERE c.relnamespace = ns.oid
    UNION ALL
    SELECT 'table inheritance', c.relname::text || ' inherits ' || pc.relname::text
      FROM pg_catalog.pg_inherits i
      JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
      JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent, ns
     WHERE c.relnamespace = ns.oid OR pc.relnamespace = ns.oid
    UNION ALL
    SELECT 'constraint not validated', k.conname::text || ' on ' || c.relname::text
      FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid, ns
     WHERE k.connamespace = ns.oid AND k.contype = 'c' AND NOT k.convalidated
) AS unsupported
ORDER BY 1
"""

_TABLES_SQL = """
SELECT c.relname, c.relpersistence = 'u',
       pg_catalog.array_remove(
           pg_catalog.array_agg(CASE WHEN a.attgenerated = '' THEN a.attname::text END
                                ORDER BY a.attnum),
           NULL),
       pg_catalog.obj_description(c.oid, 'pg_class')
  FROM pg_catalog.pg_class c
  LEFT JOIN pg_catalog.pg_attribute a
         ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = %(ns)s AND c.relkind = 'r'
 GROUP BY c.oid, c.relname, c.relpersistence
 ORDER BY c.relname
"""

# Every sequence of the template with the column that owns it (if any), and for a serial
# column whether its default is exactly nextval() of that sequence and nothing else
# refers to the sequence: only then does giving the clone its own sequence reproduce it.
_SEQUENCES_SQL = """
SELECT s.relname, t.relname, a.attname, d.deptype, a.attidentity,
       q.seqtypid::int, q.seqstart, q.seqincrement, q.seqmin, q.seqmax, q.seqcache,
       q.seqcycle, t.relnamespace = s.relnamespace,
       pg_catalog.pg_get_expr(ad.adbin, ad.adrelid)
           = pg_catalog.format('nextval(%%L::regclass)', s.oid::pg_catalog.regclass::text),
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_depend r
         WHERE r.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND r.refobjid = s.oid
           AND r.classid <> 'pg_catalog.pg_type'::pg_catalog.regclass
           AND (ad.oid IS NULL
                OR NOT (r.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                        AND r.objid = ad.oid)))
  FROM pg_catalog.pg_class s
  JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
  LEFT JOIN pg_catalog.pg_depend d
         ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = s.oid
        AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND d.deptype IN ('a', 'i')
  LEFT JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
  LEFT JOIN pg_catalog.pg_attribute a
         ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
  LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
 WHERE s.relnamespace = %(ns)s AND s.relkind = 'S'
 ORDER BY s.relname
"""

# Rendered while search_path holds the template alone: references to the template's own
# tables come out unqualified (and resolve to the clone's tables when run there), while
# anything outside the template keeps its schema.
_DEFINITIONS_SQL = """
SELECT t.relname, k.conname, k.contype::text, pg_catalog.pg_get_constraintdef(k.oid, true),
       pg_catalog.obj_description(k.conindid, 'pg_class'),
       pg_catalog.obj_description(k.oid, 'pg_constraint')
  FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class t ON t.oid = k.conrelid
 WHERE k.connamespace = %(ns)s AND k.contype IN ('p', 'u', 'x', 'f')
UNION ALL
SELECT t.relname, i.relname, 'index', pg_catalog.pg_get_indexdef(x.indexrelid, 0, true),
       pg_catalog.obj_description(i.oid, 'pg_class'), NULL
  FROM pg_catalog.pg_index x
  JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
  JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
 WHERE i.relnamespace = %(ns)s
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                    WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid
                      AND k.contype IN ('p', 'u', 'x'))
"""

# One line per property that makes two schemas differ, rendered with search_path on the
# schema itself, so the template and a faithful clone produce the very same lines. The
# columns of indexes are left out: an index keeps the name a column had when the index was
# made (a migration that renames the column leaves it), a copy names it after the column;
# what an index covers is compared through its definition. An index's definition comes
# last in its line, see _reprinted_indexes. Of a
# column's options only the documented ones (n_distinct, n_distinct_inherited) count:
# some servers keep private per-creation entries there that differ in every schema.
_FINGERPRINT_SQL = """
SELECT line FROM (
    SELECT pg_catalog.format('relation %%s kind=%%s persistence=%%s acl=%%s options=%%s '
                             'am=%%s comment=%%s',
                             c.relname, c.relkind, c.relpersistence, c.relacl, c.reloptions,
                             am.amname, pg_catalog.obj_description(c.oid, 'pg_class'))
           AS line
      FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
     WHERE c.relnamespace = %(ns)s
    UNION ALL
    SELECT pg_catalog.format('column %%s.%%s #%%s type=%%s notnull=%%s default=%%s '
                             'identity=%%s generated=%%s collation=%%s acl=%%s options=%%s '
                             'storage=%%s compression=%%s comment=%%s',
                             c.relname, a.attname,
                             pg_catalog.row_number() OVER (PARTITION BY a.attrelid
                                                           ORDER BY a.attnum),
                             pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                             pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), a.attidentity,
                             a.attgenerated, a.attcollation, a.attacl,
                             ARRAY(SELECT o FROM pg_catalog.unnest(a.attoptions) AS o
                                    WHERE o LIKE 'n\\_distinct%%'),
                             a.attstorage, a.attcompression,
                             pg_catalog.col_description(c.oid, a.attnum))
      FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
      LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE c.relnamespace = %(ns)s AND a.attnum > 0 AND NOT a.attisdropped
       AND c.relkind NOT IN ('i', 'I')
    UNION ALL
    SELECT pg_catalog.format('constraint %%s.%%s type=%%s def=%%s validated=%%s comment=%%s',
                             c.relname, k.conname, k.contype,
                             pg_catalog.pg_get_constraintdef(k.oid, true), k.convalidated,
                             pg_catalog.obj_description(k.oid, 'pg_constraint'))
      FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
     WHERE k.connamespace = %(ns)s
    UNION ALL
    SELECT pg_catalog.format('index %%s clustered=%%s replident=%%s valid=%%s def=%%s',
                             i.relname, x.indisclustered, x.indisreplident, x.indisvalid,
                             pg_catalog.pg_get_indexdef(x.indexrelid, 0, true))
      FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
     WHERE i.relnamespace = %(ns)s
    UNION ALL
    SELECT pg_catalog.format('sequence %%s type=%%s start=%%s increment=%%s min=%%s max=%%s '
                             'cache=%%s cycle=%%s owner=%%s.%%s dependency=%%s',
                             s.relname, pg_catalog.format_type(q.seqtypid, NULL),
                             q.seqstart, q.seqincrement, q.seqmin, q.seqmax, q.seqcache,
                             q.seqcycle, t.relname, a.attname, d.deptype)
      FROM pg_catalog.pg_sequence q
      JOIN pg_catalog.pg_class s ON s.oid = q.seqrelid
      LEFT JOIN pg_catalog.pg_depend d
             ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = s.oid
            AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
            AND d.deptype IN ('a', 'i')
      LEFT JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
      LEFT JOIN pg_catalog.pg_attribute a
             ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE s.relnamespace = %(ns)s
) AS lines
ORDER BY line
"""

# Objects of the new schema (relations, constraints, column defaults, types) that depend
# on a relation, type or function of the template: a faithful clone has none.
_LEAKS_SQL = """
SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)
       || ' -> ' || pg_catalog.pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
  FROM pg_catalog.pg_depend d
 WHERE ((d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
         AND d.refobjid IN (SELECT oid FROM pg_catalog.pg_class
                             WHERE relnamespace = %(template)s))
     OR (d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass
         AND d.refobjid IN (SELECT oid FROM pg_catalog.pg_type
                             WHERE typnamespace = %(template)s))
     OR (d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
         AND d.refobjid IN (SELECT oid FROM pg_catalog.pg_proc
                             WHERE pronamespace = %(template)s)))
   AND ((d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
         AND d.objid IN (SELECT oid FROM pg_catalog.pg_class
                          WHERE relnamespace = %(target)s))
     OR (d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
         AND d.objid IN (SELECT oid FROM pg_catalog.pg_constraint
                          WHERE connamespace = %(target)s))
     OR (d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
         AND d.objid IN (SELECT oid FROM pg_catalog.pg_type
                          WHERE typnamespace = %(target)s))
     OR (d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
         AND d.objid IN (SELECT ad.oid FROM pg_catalog.pg_attrdef ad
                           JOIN pg_catalog.pg_class c ON c.oid = ad.adrelid
                          WHERE c.relnamespace = %(target)s)))
 ORDER BY 1
"""


def _namespace_oid(cursor: CursorWrapper, schema: str) -> int:
    cursor.execute("SELECT oid::int FROM pg_catalog.pg_namespace WHERE nspname = %s", [schema])
    row = cursor.fetchone()
    if row is None:
        raise CloneNotSupported(f"the schema {schema!r} does not exist")
    return int(row[0])


def _fingerprint(cursor: CursorWrapper, namespace: int) -> tuple[str, ...]:
    cursor.execute(_FINGERPRINT_SQL, {"ns": namespace})
    return tuple(str(row[0]) for row in cursor.fetchall())


def _read_template(alias: str, template: str) -> _Plan:
    with _in_schema(template), connections[alias].cursor() as cursor:
        namespace = _namespace_oid(cursor, template)
        cursor.execute(_UNSUPPORTED_SQL, {"ns": namespace})
        reasons = [str(row[0]) for row in cursor.fetchall()]
        cursor.execute(_SEQUENCES_SQL, {"ns": namespace})
        sequences = _owned_sequences(cursor.fetchall(), reasons)
        if reasons:
            raise CloneNotSupported(
                "the template holds what a clone cannot reproduce: " + "; ".join(reasons)
            )
        cursor.execute(_TABLES_SQL, {"ns": namespace})
        tables = tuple(
            _Table(name=name, unlogged=bool(unlogged), columns=tuple(columns), comment=comment)
            for name, unlogged, columns, comment in cursor.fetchall()
        )
        cursor.execute(_DEFINITIONS_SQL, {"ns": namespace})
        definitions = tuple(
            _Definition(
                table=table,
                name=name,
                kind=kind,
                definition=definition,
                index_comment=index_comment,
                constraint_comment=constraint_comment,
            )
            for table, name, kind, definition, index_comment, constraint_comment in (
                cursor.fetchall()
            )
        )
        fingerprint = _fingerprint(cursor, namespace)
    return _Plan(
        tables=tables, sequences=sequences, definitions=definitions, fingerprint=fingerprint
    )


def _owned_sequences(
    rows: Sequence[tuple[Any, ...]], reasons: list[str]
) -> tuple[_OwnedSequence, ...]:
    owned: list[_OwnedSequence] = []
    for (
        name,
        table,
        column,
        deptype,
        identity,
        type_oid,
        start,
        increment,
        minimum,
        maximum,
        cache,
        cycle,
        same_schema,
        plain_nextval,
        other_references,
    ) in rows:
        if deptype is None:
            reasons.append(f"sequence {name} (owned by no column)")
        elif not same_schema:
            reasons.append(f"sequence {name} (owned by a table of another schema)")
        elif deptype == "i" and identity not in ("a", "d"):
            reasons.append(f"sequence {name} (identity of a column that is no identity)")
        elif deptype == "a" and not plain_nextval:
            reasons.append(f"sequence {name} (owned by {table}.{column}, not its default)")
        elif other_references:
            reasons.append(f"sequence {name} (used outside the default of {table}.{column})")
        elif type_oid not in _SEQUENCE_TYPES:
            reasons.append(f"sequence {name} (of an unknown type)")
        else:
            owned.append(
                _OwnedSequence(
                    name=name,
                    table=table,
                    column=column,
                    identity=identity if deptype == "i" else "",
                    type_oid=type_oid,
                    start=start,
                    increment=increment,
                    minimum=minimum,
                    maximum=maximum,
                    cache=cache,
                    cycle=bool(cycle),
                )
            )
    return tuple(owned)


# -- writing the clone ------------------------------------------------------------------


def _copy(alias: str, template: str, target: str, plan: _Plan) -> None:
    statements: list[sql.Composable] = []
    statements += [_create_table(template, target, table) for table in plan.tables]
    statements += [_copy_rows(template, target, table) for table in plan.tables]
    for sequence in plan.sequences:
        statements += _create_sequence(template, target, sequence)
    # Indexes after the rows (one sort per index instead of one insert per row), and
    # primary keys and unique constraints before the foreign keys that need them.
    for definition in sorted(plan.definitions, key=lambda item: (item.kind == "f", item.name)):
        statements += _create_definition(target, definition)
    statements += [
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            sql.Identifier(target, table.name), sql.Literal(table.comment)
        )
        for table in plan.tables
        if table.comment is not None
    ]
    if not statements:
        return
    with _in_schema(target), connections[alias].cursor() as cursor:
        # One round trip for the whole copy: with no parameters the statements travel as
        # one simple query and run in order inside the provisioning transaction, and the
        # first one that fails aborts it (and with it everything before).
        cursor.execute(sql.SQL(";\n").join(statements))


def _create_table(template: str, target: str, table: _Table) -> sql.Composable:
    # LIKE copies columns, types, NOT NULL, defaults, CHECK constraints (with their names),
    # generated columns, storage, compression and column comments. Indexes are left out
    # because LIKE renames them (and the primary and unique constraints they back) after
    # the new table, and later migrations refer to them by name; identities are left out
    # because LIKE names their new sequences after the new table as well. Both are made
    # afterwards under the template's names.
    return sql.SQL(
        "CREATE {}TABLE {} (LIKE {} INCLUDING ALL EXCLUDING INDEXES EXCLUDING IDENTITY)"
    ).format(
        sql.SQL("UNLOGGED " if table.unlogged else ""),
        sql.Identifier(target, table.name),
        sql.Identifier(template, table.name),
    )


def _copy_rows(template: str, target: str, table: _Table) -> sql.Composable:
    # Generated columns are computed again by the insert; the identities come later, so
    # the ids are copied as plain values.
    if not table.columns:
        return sql.SQL("INSERT INTO {} SELECT FROM {}").format(
            sql.Identifier(target, table.name), sql.Identifier(template, table.name)
        )
    columns = sql.SQL(", ").join(sql.Identifier(column) for column in table.columns)
    return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
        sql.Identifier(target, table.name), columns, columns, sql.Identifier(template, table.name)
    )


def _create_sequence(template: str, target: str, sequence: _OwnedSequence) -> list[sql.Composable]:
    options = sql.SQL("INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}").format(
        sql.Literal(sequence.increment),
        sql.Literal(sequence.minimum),
        sql.Literal(sequence.maximum),
        sql.Literal(sequence.start),
        sql.Literal(sequence.cache),
        sql.SQL("CYCLE" if sequence.cycle else "NO CYCLE"),
    )
    new_sequence = sql.Identifier(target, sequence.name)
    table = sql.Identifier(target, sequence.table)
    column = sql.Identifier(sequence.column)
    if sequence.identity:
        return [
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} ADD GENERATED {} AS IDENTITY ({})").format(
                table,
                column,
                sql.SQL("ALWAYS" if sequence.identity == "a" else "BY DEFAULT"),
                sql.SQL("SEQUENCE NAME {} ").format(new_sequence) + options,
            ),
            _sequence_state(template, target, sequence),
        ]
    # A serial column: the default LIKE copied still calls the template's sequence.
    return [
        sql.SQL("CREATE SEQUENCE {} AS {} ").format(
            new_sequence, sql.SQL(_SEQUENCE_TYPES[sequence.type_oid])
        )
        + options
        + sql.SQL(" OWNED BY {}.{}").format(table, column),
        sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT pg_catalog.nextval({})").format(
            table, column, _regclass(new_sequence)
        ),
        _sequence_state(template, target, sequence),
    ]


def _regclass(name: sql.Identifier) -> sql.Composable:
    """``'"schema"."name"'::regclass``: the quoted name, as a literal the server resolves."""
    return sql.Literal(name.as_string()) + sql.SQL("::pg_catalog.regclass")


def _sequence_state(template: str, target: str, sequence: _OwnedSequence) -> sql.Composable:
    """Continue where the template's sequence stands, and past every copied value.

    The template's sequence hands out ``next`` next; a copied value at or past it (a row
    inserted with an explicit id) would collide, so the clone continues after that value.
    ``next`` is computed as numeric: an exhausted sequence must not overflow here.
    """
    ascending = sequence.increment > 0
    return sql.SQL(
        "SELECT pg_catalog.setval({new}, "
        "CASE WHEN c.extreme {reached} s.next THEN c.extreme ELSE s.last_value END, "
        "CASE WHEN c.extreme {reached} s.next THEN true ELSE s.is_called END) "
        "FROM (SELECT last_value, is_called, CASE WHEN is_called "
        "THEN last_value::numeric + {increment} ELSE last_value END AS next FROM {old}) AS s, "
        "(SELECT {extreme}({column}) AS extreme FROM {table}) AS c"
    ).format(
        new=_regclass(sql.Identifier(target, sequence.name)),
        reached=sql.SQL(">=" if ascending else "<="),
        increment=sql.Literal(sequence.increment),
        old=sql.Identifier(template, sequence.name),
        extreme=sql.SQL("pg_catalog.max" if ascending else "pg_catalog.min"),
        column=sql.Identifier(sequence.column),
        table=sql.Identifier(target, sequence.table),
    )


def _create_definition(target: str, definition: _Definition) -> list[sql.Composable]:
    # The definition is catalog text made by pg_get_indexdef / pg_get_constraintdef, not
    # user input, so it is composed as SQL. It names the template's tables unqualified
    # (see _DEFINITIONS_SQL) and runs with search_path on the new schema alone, so those
    # names resolve to the clone's tables; the object's own name still goes through
    # sql.Identifier where the statement is ours.
    text = sql.SQL(definition.definition)  # catalog text, see above
    table = sql.Identifier(target, definition.table)
    index = sql.Identifier(target, definition.name)
    statements: list[sql.Composable] = []
    if definition.kind == "index":
        statements.append(text)
    else:
        statements.append(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                table, sql.Identifier(definition.name)
            )
            + text
        )
        if definition.constraint_comment is not None:
            statements.append(
                sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(
                    sql.Identifier(definition.name),
                    table,
                    sql.Literal(definition.constraint_comment),
                )
            )
    if definition.kind != "f" and definition.index_comment is not None:
        statements.append(
            sql.SQL("COMMENT ON INDEX {} IS {}").format(
                index, sql.Literal(definition.index_comment)
            )
        )
    return statements


def _verify(alias: str, template: str, target: str, plan: _Plan) -> None:
    with _in_schema(target), connections[alias].cursor() as cursor:
        target_namespace = _namespace_oid(cursor, target)
        fingerprint = _fingerprint(cursor, target_namespace)
        template_namespace = _namespace_oid(cursor, template)
        cursor.execute(_LEAKS_SQL, {"template": template_namespace, "target": target_namespace})
        leaks = [str(row[0]) for row in cursor.fetchall()]
    if leaks:
        raise CloneNotSupported(
            "the copy would still depend on the template: " + "; ".join(leaks[:5])
        )
    if fingerprint != plan.fingerprint:
        missing = set(plan.fingerprint) - set(fingerprint)
        extra = set(fingerprint) - set(plan.fingerprint)
        reprinted = _reprinted_indexes(alias, target, plan, missing, extra)
        missing -= reprinted.keys()
        extra -= set(reprinted.values())
        if not missing and not extra:
            return
        raise CloneNotSupported(
            f"the copy differs from the template: missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(extra)[:3]}"
        )


class _RollBack(Exception):
    """Leaves a savepoint by rolling it back (scratch work)."""


_INDEX_LINE = re.compile(r"index (?P<name>\S+) (?P<flags>.*?) def=(?P<definition>.*)", re.DOTALL)


def _reprinted_indexes(
    alias: str, target: str, plan: _Plan, missing: set[str], extra: set[str]
) -> dict[str, str]:
    """Pairs of index lines (the template's, the copy's) that differ only in how
    PostgreSQL prints a definition it parsed again.

    The copy creates each index from the text ``pg_get_indexdef`` gave for the template's;
    PostgreSQL stores the parsed expression, and prints some predicates back differently
    (``ARRAY[...]::text[]`` becomes ``ARRAY[...::text]``). That text is therefore created
    once more in a scratch schema, on a table of the same columns, and the copy's index
    must read exactly as that one does; the rest of the line (name, flags) must match as
    it is. The scratch schema is rolled back.
    """
    copies = {
        match["name"]: (line, match)
        for line in extra
        if (match := _INDEX_LINE.fullmatch(line)) is not None
    }
    candidates = [
        (line, match, copies[match["name"]])
        for line in missing
        if (match := _INDEX_LINE.fullmatch(line)) is not None
        and match["name"] in copies
        and copies[match["name"]][1]["flags"] == match["flags"]
    ]
    tables = {d.name: d.table for d in plan.definitions if d.kind == "index"}
    pairs: dict[str, str] = {}
    if not candidates:
        return pairs
    scratch = f"omnitenant_scratch_{secrets.token_hex(6)}"
    try:
        # A savepoint rolled back on leaving (Django's savepoint() is deprecated from 6.1):
        # nothing of the scratch schema stays.
        with transaction.atomic(using=alias):
            with connections[alias].cursor() as cursor:
                cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(scratch)))
            made: set[str] = set()
            for line, match, (copy_line, copy_match) in candidates:
                table = tables.get(match["name"])
                if table is None:
                    continue
                with _in_schema(scratch), connections[alias].cursor() as cursor:
                    if table not in made:
                        cursor.execute(
                            sql.SQL("CREATE TABLE {} (LIKE {})").format(
                                sql.Identifier(scratch, table), sql.Identifier(target, table)
                            )
                        )
                        made.add(table)
                    # Catalog text from pg_get_indexdef, as in _create_definition; its
                    # table is unqualified and resolves to the scratch copy.
                    cursor.execute(sql.SQL(match["definition"]))  # catalog text, see above
                    cursor.execute(
                        "SELECT pg_catalog.pg_get_indexdef(%s::pg_catalog.regclass, 0, true)",
                        [sql.Identifier(scratch, match["name"]).as_string(None)],
                    )
                    row = cursor.fetchone()
                if row and row[0] == copy_match["definition"]:
                    pairs[line] = copy_line
            raise _RollBack
    except _RollBack:
        pass
    return pairs
