"""Start-up of the omnitenant app: what ``OmnitenantConfig.ready()`` switches on.

Nothing here patches Django or another library: it registers system checks and the
context listener that sends ``tenant_activated`` / ``tenant_deactivated``. Both can be
undone with :func:`shutdown` (tests use it).
"""

from __future__ import annotations

from django.core import checks

from django_omnitenant.checks import check_configuration
from django_omnitenant.signals import connect_activation_signals, disconnect_activation_signals

__all__ = ["bootstrap", "shutdown"]


def bootstrap() -> None:
    """Register the system checks and the activation-signal listener (idempotent)."""
    checks.register(check_configuration, "omnitenant")
    connect_activation_signals()


def shutdown() -> None:
    """Undo :func:`bootstrap`'s listener (checks stay registered, as Django's do)."""
    disconnect_activation_signals()
