"""django-tenants' master models for the benchmark: its tenant and domain."""
