"""omnitenant's master models for the benchmark: its tenant and domain."""
