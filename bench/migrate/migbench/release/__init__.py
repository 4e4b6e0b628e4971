"""Migration modules swapped in with ``MIGRATION_MODULES`` for scenario B."""
