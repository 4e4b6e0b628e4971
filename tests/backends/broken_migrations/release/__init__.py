"""Stand-in migration package, see ``tests.backends.broken_migrations``."""
