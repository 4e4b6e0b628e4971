"""The example's own app: the pages of the public host and of each tenant."""

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"

    def ready(self) -> None:
        # The sign-up's owner account is created inside the tenant's provisioning.
        from demo import signup  # noqa: PLC0415 - it imports models, not ready before

        signup.connect()
