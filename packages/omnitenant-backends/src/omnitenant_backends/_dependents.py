"""What outside a schema depends on what is inside it, read from ``pg_depend``.

``DROP SCHEMA ... CASCADE`` drops, without a word, every object elsewhere that depends on
the schema's objects: a view in another tenant's schema reading one of its tables, a
foreign key pointing into it, a column of one of its types. Purging a tenant must never
reach outside its own storage, so the schema backend asks this module first and refuses
to drop when the answer is not empty.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from omnitenant_context import OmnitenantError

__all__ = ["StorageInUse", "outside_dependents"]


class StorageInUse(OmnitenantError):
    """A tenant's storage cannot be dropped: objects outside it depend on it."""


# The schema each dependent object lives in. Objects with a namespace of their own say so
# directly; rules, column defaults, triggers and policies belong to a relation, and live
# in its schema. Anything else falls back to pg_identify_object(); an object with no
# schema at all (an extension, say) counts as outside.
_DEPENDENTS_SQL = """
WITH target AS (
    SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = %(schema)s
),
inside(classid, objid) AS (
    SELECT 'pg_catalog.pg_namespace'::regclass, oid FROM target
    UNION ALL
    SELECT 'pg_catalog.pg_class'::regclass, c.oid
    FROM pg_catalog.pg_class c JOIN target t ON c.relnamespace = t.oid
    UNION ALL
    SELECT 'pg_catalog.pg_type'::regclass, ty.oid
    FROM pg_catalog.pg_type ty JOIN target t ON ty.typnamespace = t.oid
    UNION ALL
    SELECT 'pg_catalog.pg_proc'::regclass, p.oid
    FROM pg_catalog.pg_proc p JOIN target t ON p.pronamespace = t.oid
    UNION ALL
    SELECT 'pg_catalog.pg_constraint'::regclass, co.oid
    FROM pg_catalog.pg_constraint co JOIN target t ON co.connamespace = t.oid
),
dependents AS (
    SELECT DISTINCT d.classid, d.objid
    FROM pg_catalog.pg_depend d
    JOIN inside i ON d.refclassid = i.classid AND d.refobjid = i.objid
    WHERE d.deptype IN ('n', 'a')
),
placed AS (
    SELECT
        dep.classid,
        dep.objid,
        CASE dep.classid
            WHEN 'pg_catalog.pg_class'::regclass THEN
                (SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = dep.objid)
            WHEN 'pg_catalog.pg_type'::regclass THEN
                (SELECT typnamespace FROM pg_catalog.pg_type WHERE oid = dep.objid)
            WHEN 'pg_catalog.pg_proc'::regclass THEN
                (SELECT pronamespace FROM pg_catalog.pg_proc WHERE oid = dep.objid)
            WHEN 'pg_catalog.pg_constraint'::regclass THEN
                (SELECT connamespace FROM pg_catalog.pg_constraint WHERE oid = dep.objid)
            WHEN 'pg_catalog.pg_rewrite'::regclass THEN
                (SELECT c.relnamespace FROM pg_catalog.pg_rewrite r
                 JOIN pg_catalog.pg_class c ON c.oid = r.ev_class WHERE r.oid = dep.objid)
            WHEN 'pg_catalog.pg_attrdef'::regclass THEN
                (SELECT c.relnamespace FROM pg_catalog.pg_attrdef a
                 JOIN pg_catalog.pg_class c ON c.oid = a.adrelid WHERE a.oid = dep.objid)
            WHEN 'pg_catalog.pg_trigger'::regclass THEN
                (SELECT c.relnamespace FROM pg_catalog.pg_trigger tg
                 JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid WHERE tg.oid = dep.objid)
            WHEN 'pg_catalog.pg_policy'::regclass THEN
                (SELECT c.relnamespace FROM pg_catalog.pg_policy po
                 JOIN pg_catalog.pg_class c ON c.oid = po.polrelid WHERE po.oid = dep.objid)
            ELSE
                (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname =
                    (pg_catalog.pg_identify_object(dep.classid, dep.objid, 0)).schema)
        END AS namespace
    FROM dependents dep
)
SELECT DISTINCT pg_catalog.pg_describe_object(p.classid, p.objid, 0)
FROM placed p
WHERE p.namespace IS DISTINCT FROM (SELECT oid FROM target)
ORDER BY 1
"""


def outside_dependents(connection: BaseDatabaseWrapper, schema: str) -> list[str]:
    """Describe every object outside ``schema`` that depends on an object inside it.

    Each entry is PostgreSQL's own description (``view other.report``, ``constraint
    fk_x on table other.orders``). Empty when the schema can be dropped on its own.
    """
    with connection.cursor() as cursor:
        cursor.execute(_DEPENDENTS_SQL, {"schema": schema})
        return [str(row[0]) for row in cursor.fetchall()]
