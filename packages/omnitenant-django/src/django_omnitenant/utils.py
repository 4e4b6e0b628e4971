"""Helpers to reach the configured models, backends and the current tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from django_omnitenant.conf import OmnitenantConfigurationError, backend_settings
from omnitenant_context import IsolationType, Tenant, TenantContext

if TYPE_CHECKING:
    from django_omnitenant.models import BaseDomain, BaseTenant
    from omnitenant_backends import BaseTenantBackend

__all__ = [
    "get_current_tenant",
    "get_domain_model",
    "get_tenant_backend",
    "get_tenant_model",
    "import_from_setting",
]

_BACKENDS: dict[str, str] = {
    IsolationType.SCHEMA: "omnitenant_backends.SchemaTenantBackend",
    IsolationType.DATABASE: "omnitenant_backends.DatabaseTenantBackend",
}


def _get_model(key: str, label: str | None) -> Any:
    if not label:
        raise OmnitenantConfigurationError(
            f"OMNITENANT_CONFIG['{key}'] is not set; set it to 'app_label.ModelName'."
        )
    try:
        return apps.get_model(label, require_ready=False)
    except (ValueError, LookupError) as exc:
        raise OmnitenantConfigurationError(
            f"OMNITENANT_CONFIG['{key}'] = {label!r} does not name an installed model: {exc}"
        ) from exc


def get_tenant_model() -> type[BaseTenant]:
    """Return the tenant model named by ``OMNITENANT_CONFIG['TENANT_MODEL']``."""
    return cast("type[BaseTenant]", _get_model("TENANT_MODEL", backend_settings().tenant_model))


def get_domain_model() -> type[BaseDomain]:
    """Return the domain model named by ``OMNITENANT_CONFIG['DOMAIN_MODEL']``."""
    return cast("type[BaseDomain]", _get_model("DOMAIN_MODEL", backend_settings().domain_model))


def get_tenant_backend(tenant: Tenant) -> BaseTenantBackend:
    """Return the backend that manages ``tenant``'s storage, by its isolation type."""
    path = _BACKENDS.get(tenant.isolation_type)
    if path is None:
        raise ImproperlyConfigured(
            f"Tenant {tenant.tenant_id!r} has isolation type {tenant.isolation_type!r}; "
            f"omnitenant knows {sorted(_BACKENDS)}."
        )
    backend_class = import_string(path)
    return cast("BaseTenantBackend", backend_class(tenant))


def get_current_tenant() -> Tenant | None:
    """Return the active tenant, or ``None`` (same as ``TenantContext.get_tenant()``)."""
    return TenantContext.get_tenant()


def import_from_setting(key: str, path: str) -> Any:
    """Import ``path``, the value of ``OMNITENANT_CONFIG[key]`` (named in the error)."""
    try:
        return import_string(path)
    except ImportError as exc:
        raise OmnitenantConfigurationError(
            f"OMNITENANT_CONFIG['{key}'] = {path!r} cannot be imported: {exc}"
        ) from exc
