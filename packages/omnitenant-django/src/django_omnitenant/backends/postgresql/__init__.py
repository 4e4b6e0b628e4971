"""The PostgreSQL engine; ``ENGINE = "django_omnitenant.backends.postgresql"`` works too."""
