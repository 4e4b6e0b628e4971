"""The request benchmark's Django projects: one settings module per variant."""
