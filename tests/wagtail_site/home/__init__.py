"""The project's page types (a tenant app)."""
