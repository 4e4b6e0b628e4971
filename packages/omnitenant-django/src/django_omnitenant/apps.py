"""The Django app config of omnitenant."""

from __future__ import annotations

from django.apps import AppConfig

# Declares the keys only this app reads as soon as Django loads the app, before anything
# loads the settings: the unknown-key check then knows every key.
import django_omnitenant.conf  # noqa: F401


class OmnitenantConfig(AppConfig):
    """Registers the system checks and the activation signals when Django starts."""

    name = "django_omnitenant"
    label = "django_omnitenant"
    verbose_name = "omnitenant"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_omnitenant.bootstrap import bootstrap  # noqa: PLC0415 - needs ready apps

        bootstrap()
