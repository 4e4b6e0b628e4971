"""The migrate benchmark's Django projects: one settings module per tool."""
