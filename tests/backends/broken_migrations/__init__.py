"""Stand-in migration packages for ``tests.tenantapp``, switched on per test with
``override_settings(MIGRATION_MODULES={"tenantapp": ...})``.

Each holds the app's real ``0001_initial`` (imported, not copied, so it can never drift from
the app's own) plus one migration of its own:

* ``failing.migrations``: a ``0002`` whose SQL the server refuses, to break provisioning
  halfway;
* ``upgraded.migrations``: a ``0002`` that adds a table and a row, as a new release would;
* ``deferred.migrations``: a data migration inserting rows joined by a (deferred) foreign
  key, then an ``ALTER TABLE`` of the same table, as Wagtail's history has: valid when each
  migration ends like its own transaction, refused by PostgreSQL ("pending trigger
  events") when the chain runs as one;
* ``dangling.migrations``: a data migration whose foreign key points nowhere, which the
  deferred check at the end of that migration must refuse;
* ``concurrent.migrations``: a non-atomic migration (``CREATE INDEX CONCURRENTLY``), which
  an existing tenant runs but a template (migrated inside a transaction) cannot.
* ``release.migrations``: three more (DDL, a field and ``RunPython``, a ``RunSQL`` view in
  a non-atomic migration), to compare the fleet executor with Django's.
"""
