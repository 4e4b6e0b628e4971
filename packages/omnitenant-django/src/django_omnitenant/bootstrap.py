"""Start-up of the omnitenant app: what ``OmnitenantConfig.ready()`` switches on.

It registers system checks and the context listener that sends ``tenant_activated`` /
``tenant_deactivated``, applies the signing and sites settings, and (with
``django.contrib.contenttypes`` installed) gives ``ContentType.objects`` a cache keyed by
tenant storage instead of by alias alone (see :mod:`django_omnitenant.contenttypes`),
here and not at import time. It also connects the request-end release of database
tenants' connections other threads asked for, and (unless ``ATOMIC_FOLLOWS_TENANT`` is
False) installs the integration by which atomic blocks on the default alias also cover the
active database tenant (:mod:`omnitenant_backends.transactions`). :func:`shutdown` undoes
all but the checks (tests use it).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core import checks
from django.core.signals import request_finished, setting_changed
from django.db.models.signals import post_delete, post_save

from django_omnitenant.checks import (
    check_configuration,
    check_placed_tenants,
    check_placement,
)
from django_omnitenant.contenttypes import (
    install_content_type_cache,
    uninstall_content_type_cache,
)
from django_omnitenant.scopedrift import check_scope_drift
from django_omnitenant.signals import connect_activation_signals, disconnect_activation_signals
from django_omnitenant.signing import apply_signing_setting
from django_omnitenant.sites import apply_sites_setting
from django_omnitenant.stores import invalidate_tenant_cache
from django_omnitenant.utils import get_domain_model, get_tenant_model
from omnitenant_backends.conf import OmnitenantConfigurationError, backend_settings
from omnitenant_backends.database import release_requested_connections
from omnitenant_backends.signals import tenant_created, tenant_deleted
from omnitenant_backends.transactions import (
    follow_tenant_transactions,
    stop_following_tenant_transactions,
)

__all__ = ["bootstrap", "shutdown"]


def bootstrap() -> None:
    """Register the system checks and the activation-signal listener (idempotent)."""
    checks.register(check_configuration, "omnitenant")
    checks.register(check_scope_drift, "omnitenant", checks.Tags.database)
    checks.register(check_placement, "omnitenant")
    checks.register(check_placed_tenants, "omnitenant", checks.Tags.database)
    connect_activation_signals()
    connect_cache_invalidation()
    apply_signing_setting()
    apply_sites_setting()
    if apps.is_installed("django.contrib.contenttypes"):
        install_content_type_cache()
        # A schema made again under an old name may number its content types anew.
        for signal in (tenant_created, tenant_deleted):
            signal.connect(_forget_content_types, dispatch_uid="omnitenant-content-types")
    request_finished.connect(_release_requested, dispatch_uid="omnitenant-release-connections")
    apply_transaction_following()
    setting_changed.connect(_settings_changed, dispatch_uid="omnitenant-transaction-following")


def apply_transaction_following() -> None:
    """Install or remove the atomic-follows-tenant integration as the settings say."""
    try:
        follow = backend_settings().atomic_follows_tenant
    except OmnitenantConfigurationError:
        return  # reported by the system checks
    if follow:
        follow_tenant_transactions()
    else:
        stop_following_tenant_transactions()


def _release_requested(**kwargs: object) -> None:
    release_requested_connections()


def _settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting == "OMNITENANT_CONFIG":
        backend_settings.reload()  # whichever receiver runs first, read the new value
        apply_transaction_following()


def _forget_content_types(**_: Any) -> None:
    from django.contrib.contenttypes.models import ContentType  # noqa: PLC0415 - apps ready

    ContentType.objects.clear_cache()


def connect_cache_invalidation() -> None:
    """Drop cached tenant lookups whenever a tenant or domain row is saved or deleted."""
    try:
        senders = [get_tenant_model(), get_domain_model()]
    except OmnitenantConfigurationError:
        return  # reported by the system checks (omnitenant.E002 / E003)
    for sender in senders:
        for signal in (post_save, post_delete):
            signal.connect(
                invalidate_tenant_cache,
                sender=sender,
                dispatch_uid=f"omnitenant-invalidate-{sender._meta.label}-{id(signal)}",
            )


def shutdown() -> None:
    """Undo :func:`bootstrap`'s listener (checks stay registered, as Django's do)."""
    disconnect_activation_signals()
    if apps.is_installed("django.contrib.contenttypes"):
        uninstall_content_type_cache()
        for signal in (tenant_created, tenant_deleted):
            signal.disconnect(dispatch_uid="omnitenant-content-types")
    request_finished.disconnect(dispatch_uid="omnitenant-release-connections")
    setting_changed.disconnect(dispatch_uid="omnitenant-transaction-following")
    stop_following_tenant_transactions()
