"""The home app's migrations with the next release's: switched on by the acceptance test
(``MIGRATION_MODULES``) to run ``migratealltenants`` after a project migration appears."""
