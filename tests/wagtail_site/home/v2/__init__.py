"""The home app at its next release (see ``v2.migrations``)."""
