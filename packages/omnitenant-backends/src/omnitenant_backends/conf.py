"""omnitenant's settings: the ``OMNITENANT_CONFIG`` dict of the Django settings.

Every key has a documented default; :data:`omnitenant_settings` reads them on first use and
again after ``override_settings`` changes ``OMNITENANT_CONFIG``, so tests can switch any of
them. Reading a setting is an attribute lookup on a cached object: cheap enough for the
router, which asks on every query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from omnitenant_context import ConfigurationError

__all__ = [
    "DEFAULTS",
    "AppScope",
    "OmnitenantConfigurationError",
    "OmnitenantSettings",
    "omnitenant_settings",
]

AppScope = Literal["master", "tenant", "shared"]


class OmnitenantConfigurationError(ConfigurationError, ImproperlyConfigured):
    """``OMNITENANT_CONFIG`` is wrong; the message names the key to fix."""


#: The documented defaults of every ``OMNITENANT_CONFIG`` key.
DEFAULTS: Final[Mapping[str, Any]] = {
    # The concrete tenant and domain models, as "app_label.ModelName".
    "TENANT_MODEL": None,
    "DOMAIN_MODEL": None,
    # The host that serves the master (no tenant), e.g. "example.com".
    "PUBLIC_HOST": None,
    # The PostgreSQL schema that holds shared tables; it can never be dropped.
    "PUBLIC_TENANT_NAME": "public",
    # How commands and logs name the master scope (``--tenant master``).
    "MASTER_TENANT_NAME": "master",
    # The connection alias of the master database; it can never be dropped.
    "MASTER_DATABASE": "default",
    # Dotted path of the resolver class the middleware uses.
    "TENANT_RESOLVER": "django_omnitenant.resolvers.CustomDomainTenantResolver",
    # Model scopes, by app label: master only, every tenant, or both.
    "MASTER_APPS": (),
    "TENANT_APPS": (),
    "SHARED_APPS": (),
    # The scope of apps in none of the three lists.
    "DEFAULT_APP_SCOPE": "shared",
    # Schema tenants: clone new tenants from this migrated template schema (faster than
    # running the migrations); None or CLONE_SCHEMA_TEMPLATE=False runs the migrations.
    "SCHEMA_TEMPLATE": "omnitenant_template",
    "CLONE_SCHEMA_TEMPLATE": True,
    # Database tenants: keys merged under each tenant's own database config.
    "DATABASE_DEFAULTS": {},
    # Database tenants on SQLite: where tenant files go (default: next to the master
    # database file, or BASE_DIR/"tenants").
    "SQLITE_DIRECTORY": None,
    # Database tenants on PostgreSQL: CREATE DATABASE ... TEMPLATE this database.
    "POSTGRES_TEMPLATE_DATABASE": None,
    # Per thread, at most this many tenant database connections stay open; the least
    # recently used one is closed first.
    "MAX_OPEN_TENANT_CONNECTIONS": 32,
    # The cached tenant lookup of the resolvers: seconds a found / unknown tenant stays
    # cached (saves and deletes invalidate explicitly; the TTL only bounds how long a
    # raw SQL change goes unseen), entries kept per process, the Django cache alias
    # holding the shared invalidation version, and seconds between two reads of that
    # version (0: every lookup, one cache read per request; the default 1 s lets other
    # processes see a change within a second while warm requests read nothing).
    "TENANT_CACHE_TTL": 3600.0,
    "TENANT_CACHE_NEGATIVE_TTL": 30.0,
    "TENANT_CACHE_MAX_SIZE": 10_000,
    "TENANT_CACHE_ALIAS": "default",
    "TENANT_CACHE_VERSION_CHECK_INTERVAL": 1.0,
    # What the middleware does with a host that names no tenant: "not_found" answers
    # 404, "public" serves the request without a tenant (like PUBLIC_HOST).
    "UNKNOWN_HOST": "not_found",
}

_SCOPES: Final = ("master", "tenant", "shared")
_UNKNOWN_HOST_CHOICES: Final = ("not_found", "public")


@dataclass(frozen=True, slots=True)
class OmnitenantSettings:
    """A validated, immutable view of ``OMNITENANT_CONFIG`` with defaults filled in."""

    tenant_model: str | None
    domain_model: str | None
    public_host: str | None
    public_schema: str
    master_tenant_name: str
    master_database: str
    tenant_resolver: str
    master_apps: frozenset[str]
    tenant_apps: frozenset[str]
    shared_apps: frozenset[str]
    default_app_scope: AppScope
    schema_template: str | None
    clone_schema_template: bool
    database_defaults: Mapping[str, Any]
    sqlite_directory: Path | None
    postgres_template_database: str | None
    max_open_tenant_connections: int
    tenant_cache_ttl: float
    tenant_cache_negative_ttl: float
    tenant_cache_max_size: int
    tenant_cache_alias: str
    tenant_cache_version_check_interval: float
    unknown_host: Literal["not_found", "public"]
    raw: Mapping[str, Any] = field(repr=False)

    def app_scope(self, app_label: str) -> AppScope:
        """Return the scope of ``app_label`` (the default scope if it is in no list)."""
        if app_label in self.tenant_apps:
            return "tenant"
        if app_label in self.master_apps:
            return "master"
        if app_label in self.shared_apps:
            return "shared"
        return self.default_app_scope


def _load() -> OmnitenantSettings:
    raw = getattr(settings, "OMNITENANT_CONFIG", None) or {}
    if not isinstance(raw, Mapping):
        raise OmnitenantConfigurationError("settings.OMNITENANT_CONFIG must be a dict.")
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise OmnitenantConfigurationError(
            f"OMNITENANT_CONFIG has unknown keys {unknown}; the known keys are {sorted(DEFAULTS)}."
        )
    merged = {**DEFAULTS, **raw}
    scope = merged["DEFAULT_APP_SCOPE"]
    if scope not in _SCOPES:
        raise OmnitenantConfigurationError(
            f"OMNITENANT_CONFIG['DEFAULT_APP_SCOPE'] is {scope!r}; use one of {_SCOPES}."
        )
    max_open = merged["MAX_OPEN_TENANT_CONNECTIONS"]
    if not isinstance(max_open, int) or max_open < 1:
        raise OmnitenantConfigurationError(
            "OMNITENANT_CONFIG['MAX_OPEN_TENANT_CONNECTIONS'] must be a positive integer."
        )
    unknown_host = merged["UNKNOWN_HOST"]
    if unknown_host not in _UNKNOWN_HOST_CHOICES:
        raise OmnitenantConfigurationError(
            f"OMNITENANT_CONFIG['UNKNOWN_HOST'] is {unknown_host!r}; use one of "
            f"{_UNKNOWN_HOST_CHOICES}."
        )
    for key in ("TENANT_CACHE_TTL", "TENANT_CACHE_NEGATIVE_TTL", "TENANT_CACHE_MAX_SIZE"):
        if not isinstance(merged[key], int | float) or merged[key] <= 0:
            raise OmnitenantConfigurationError(
                f"OMNITENANT_CONFIG['{key}'] must be a positive number."
            )
    sqlite_directory = merged["SQLITE_DIRECTORY"]
    return OmnitenantSettings(
        tenant_model=merged["TENANT_MODEL"],
        domain_model=merged["DOMAIN_MODEL"],
        public_host=merged["PUBLIC_HOST"],
        public_schema=merged["PUBLIC_TENANT_NAME"],
        master_tenant_name=merged["MASTER_TENANT_NAME"],
        master_database=merged["MASTER_DATABASE"],
        tenant_resolver=merged["TENANT_RESOLVER"],
        master_apps=frozenset(merged["MASTER_APPS"]),
        tenant_apps=frozenset(merged["TENANT_APPS"]),
        shared_apps=frozenset(merged["SHARED_APPS"]),
        default_app_scope=scope,
        schema_template=merged["SCHEMA_TEMPLATE"],
        clone_schema_template=bool(merged["CLONE_SCHEMA_TEMPLATE"]),
        database_defaults=dict(merged["DATABASE_DEFAULTS"]),
        sqlite_directory=None if sqlite_directory is None else Path(sqlite_directory),
        postgres_template_database=merged["POSTGRES_TEMPLATE_DATABASE"],
        max_open_tenant_connections=max_open,
        tenant_cache_ttl=float(merged["TENANT_CACHE_TTL"]),
        tenant_cache_negative_ttl=float(merged["TENANT_CACHE_NEGATIVE_TTL"]),
        tenant_cache_max_size=int(merged["TENANT_CACHE_MAX_SIZE"]),
        tenant_cache_alias=merged["TENANT_CACHE_ALIAS"],
        tenant_cache_version_check_interval=float(merged["TENANT_CACHE_VERSION_CHECK_INTERVAL"]),
        unknown_host=unknown_host,
        raw=merged,
    )


class _LazySettings:
    """Loads :class:`OmnitenantSettings` on first access; reloads after a change."""

    __slots__ = ("_loaded",)

    def __init__(self) -> None:
        self._loaded: OmnitenantSettings | None = None

    def get(self) -> OmnitenantSettings:
        loaded = self._loaded
        if loaded is None:
            loaded = self._loaded = _load()
        return loaded

    def reload(self) -> None:
        self._loaded = None


_lazy = _LazySettings()


def omnitenant_settings() -> OmnitenantSettings:
    """Return the current, validated omnitenant settings.

    Raises:
        OmnitenantConfigurationError: ``OMNITENANT_CONFIG`` is invalid.
    """
    return _lazy.get()


@receiver(setting_changed)
def _reload_on_change(*, setting: str, **kwargs: object) -> None:
    if setting in ("OMNITENANT_CONFIG", "BASE_DIR", "DATABASES", "CACHES"):
        _lazy.reload()
        for listener in _reload_listeners:
            listener()


# Objects built from the settings (the Django app's cached tenant store) register here
# to be rebuilt after a change.
_reload_listeners: list[Callable[[], None]] = []


def on_settings_reload(listener: Callable[[], None]) -> None:
    """Call ``listener`` whenever the omnitenant settings are reloaded."""
    if listener not in _reload_listeners:
        _reload_listeners.append(listener)
