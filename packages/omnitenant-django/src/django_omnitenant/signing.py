"""Signed values bound to the tenant they were signed in.

Django signs with ``settings.SECRET_KEY`` (``django.core.signing``, signed cookies,
sessions, password-reset tokens, ``salted_hmac``): one key for every tenant, while
primary keys repeat in every schema. A value signed over a tenant-local id in tenant B
would then verify in tenant C. With ``OMNITENANT_CONFIG["BIND_SIGNING_TO_TENANT"]``
(on by default) ``ready()`` replaces ``SECRET_KEY`` and every ``SECRET_KEY_FALLBACKS``
entry by a :class:`TenantBoundSecret` of the same value. Compared, measured or printed it
is the key you set; turned into bytes (``str()``, ``.encode()``, which is what Django's
``force_bytes`` does before every HMAC) inside a tenant it is a key derived for that
tenant::

    HMAC-SHA256(key, "omnitenant.signing-key:" + tenant_id)

With no tenant active (the public host, commands, ``use_master_db()``) it is the key
itself, so what the master signed before stays valid there. Rotation through
``SECRET_KEY_FALLBACKS`` works per tenant, since each fallback is derived the same way.
Nothing in Django or in an app is patched; the settings hold a different object.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from django_omnitenant.conf import OmnitenantConfigurationError, app_settings
from omnitenant_context import TenantContext

__all__ = [
    "TenantBoundSecret",
    "apply_signing_setting",
    "bind_signing_keys",
    "derive_tenant_key",
    "unbind_signing_keys",
]

_DERIVATION_LABEL = b"omnitenant.signing-key:"


def derive_tenant_key(key: str | bytes, tenant_id: str) -> str:
    """The key a tenant signs with, derived from ``key`` (hex, 64 characters)."""
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, _DERIVATION_LABEL + tenant_id.encode(), hashlib.sha256).hexdigest()


class TenantBoundSecret(str):
    """A secret key that is a different key in each tenant, once turned into bytes.

    Equality, hashing, ``len()`` and ``repr()`` are those of the plain key (Django's
    deployment checks read it as it is); ``str()`` and ``.encode()`` give the key of the
    active tenant. The derived keys are memoised per tenant id.
    """

    _derived: dict[str, str]

    def __new__(cls, key: str) -> TenantBoundSecret:
        bound = super().__new__(cls, key)
        bound._derived = {}
        return bound

    def for_tenant(self, tenant_id: str | None) -> str:
        """The key as used in ``tenant_id`` (the plain key for ``None``)."""
        if tenant_id is None:
            return str.__str__(self)
        derived = self._derived.get(tenant_id)
        if derived is None:
            # Racing threads compute the same value: no lock needed.
            derived = self._derived[tenant_id] = derive_tenant_key(str.__str__(self), tenant_id)
        return derived

    def __str__(self) -> str:
        tenant = TenantContext.get_tenant()
        return self.for_tenant(None if tenant is None else tenant.tenant_id)

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return str(self).encode(encoding, errors)

    def __reduce__(self) -> tuple[Any, ...]:
        return (TenantBoundSecret, (str.__str__(self),))


def _bound(key: Any) -> Any:
    if isinstance(key, TenantBoundSecret) or not isinstance(key, str) or not key:
        return key  # bytes keys and empty keys are left to Django's own checks
    return TenantBoundSecret(key)


def bind_signing_keys() -> None:
    """Make ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` tenant-bound (idempotent)."""
    key = getattr(settings, "SECRET_KEY", None)
    if key is not None and _bound(key) is not key:
        settings.SECRET_KEY = _bound(key)
    fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", None)
    if isinstance(fallbacks, Iterable) and not isinstance(fallbacks, str):
        fallbacks = list(fallbacks)
        bound = [_bound(item) for item in fallbacks]
        if any(new is not old for new, old in zip(bound, fallbacks, strict=True)):
            settings.SECRET_KEY_FALLBACKS = bound


def unbind_signing_keys() -> None:
    """Give ``SECRET_KEY`` and its fallbacks back as the plain strings."""
    key = getattr(settings, "SECRET_KEY", None)
    if isinstance(key, TenantBoundSecret):
        settings.SECRET_KEY = str.__str__(key)
    fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", None) or []
    if any(isinstance(item, TenantBoundSecret) for item in fallbacks):
        settings.SECRET_KEY_FALLBACKS = [
            str.__str__(item) if isinstance(item, TenantBoundSecret) else item for item in fallbacks
        ]


def apply_signing_setting() -> None:
    """Bind or unbind the keys as ``BIND_SIGNING_TO_TENANT`` says; follow its changes.

    Called by the app's ``ready()``; afterwards ``override_settings`` of ``SECRET_KEY``,
    ``SECRET_KEY_FALLBACKS`` or ``OMNITENANT_CONFIG`` applies the setting again.
    """
    setting_changed.connect(_on_setting_changed, dispatch_uid="omnitenant-signing-keys")
    try:
        bind = app_settings().bind_signing_to_tenant
    except OmnitenantConfigurationError:
        # An invalid OMNITENANT_CONFIG is reported by the system checks (E001) and by
        # whatever reads it next; keep the keys as they are.
        return
    if bind:
        bind_signing_keys()
    else:
        unbind_signing_keys()


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS", "OMNITENANT_CONFIG"):
        apply_signing_setting()
