"""The Django app config of omnitenant."""

from __future__ import annotations

from django.apps import AppConfig


class OmnitenantConfig(AppConfig):
    """Registers the system checks and the activation signals when Django starts."""

    name = "django_omnitenant"
    label = "django_omnitenant"
    verbose_name = "omnitenant"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_omnitenant.bootstrap import bootstrap  # noqa: PLC0415 - needs ready apps

        bootstrap()
