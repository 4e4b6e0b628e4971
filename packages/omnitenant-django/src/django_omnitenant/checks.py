"""System checks: catch a misconfiguration at start-up, with how to fix it."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache.backends.dummy import DummyCache
from django.core.checks import CheckMessage, Error, Warning
from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.template.loaders import cached
from django.utils.module_loading import import_string

from django_omnitenant.conf import OmnitenantConfigurationError, app_settings, backend_settings
from django_omnitenant.loaders import CachedLoader, TenantDirectoriesLoader
from omnitenant_backends.cache import TenantCacheMixin

__all__ = ["check_configuration"]

_ROUTER = "django_omnitenant.routers.TenantRouter"
_SCHEMA_ENGINE = "omnitenant_backends.postgresql"


def check_configuration(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The ``omnitenant`` system checks (``manage.py check`` runs them)."""
    try:
        conf = backend_settings()
        app_conf = app_settings()
    except OmnitenantConfigurationError as exc:
        return [Error(str(exc), id="omnitenant.E001")]
    messages: list[CheckMessage] = []
    for key, label in (
        ("TENANT_MODEL", conf.tenant_model),
        ("DOMAIN_MODEL", conf.domain_model),
    ):
        if not label:
            messages.append(
                Error(
                    f"OMNITENANT_CONFIG['{key}'] is not set.",
                    hint="Set it to your model, as 'app_label.ModelName'.",
                    id="omnitenant.E002",
                )
            )
            continue
        try:
            apps.get_model(label)
        except (LookupError, ValueError):
            messages.append(
                Error(
                    f"OMNITENANT_CONFIG['{key}'] = {label!r} is not an installed model.",
                    hint="Check the app label and model name, and INSTALLED_APPS.",
                    id="omnitenant.E003",
                )
            )
    messages.extend(_check_scopes(conf.master_apps, conf.tenant_apps, conf.shared_apps))
    # The model apps are master without being listed; listed elsewhere, they would be
    # migrated into tenants and routed away from the master.
    for model_app in sorted(conf.model_apps):
        scope = conf.app_scope(model_app)
        if scope != "master":
            messages.append(
                Error(
                    f"The app {model_app!r} holds the tenant or domain model but its scope "
                    f"is {scope!r}.",
                    hint=f"Remove {model_app!r} from TENANT_APPS and SHARED_APPS (it is "
                    "master-scoped without being listed).",
                    id="omnitenant.E004",
                )
            )
    if _ROUTER not in settings.DATABASE_ROUTERS:
        messages.append(
            Error(
                "The omnitenant database router is not installed.",
                hint=f"Add {_ROUTER!r} to DATABASE_ROUTERS.",
                id="omnitenant.E005",
            )
        )
    master = settings.DATABASES.get(conf.master_database)
    if master is None:
        messages.append(
            Error(
                f"OMNITENANT_CONFIG['MASTER_DATABASE'] = {conf.master_database!r} is not in "
                "DATABASES.",
                id="omnitenant.E006",
            )
        )
    elif master.get("ENGINE") == "django.db.backends.postgresql":
        messages.append(
            Warning(
                "The master database uses Django's PostgreSQL engine: schema tenants "
                "will not get their search_path.",
                hint=f"Set its ENGINE to {_SCHEMA_ENGINE!r}.",
                id="omnitenant.W001",
            )
        )
    messages.extend(_check_sites(app_conf.tenant_sites, conf.app_scope("sites")))
    unscoped = sorted(
        config.label
        for config in apps.get_app_configs()
        if config.label
        not in conf.master_apps | conf.tenant_apps | conf.shared_apps | conf.model_apps
        and config.models_module is not None
        and config.label != "django_omnitenant"
    )
    if unscoped and conf.default_app_scope == backend_settings.defaults()["DEFAULT_APP_SCOPE"]:
        messages.append(
            Warning(
                f"These apps have no scope and default to 'shared' (in the master and in "
                f"every tenant): {', '.join(unscoped)}.",
                hint="List each app in MASTER_APPS, TENANT_APPS or SHARED_APPS, or set "
                "DEFAULT_APP_SCOPE explicitly to silence this warning.",
                id="omnitenant.W002",
            )
        )
    messages.extend(_check_page_caches())
    messages.extend(_check_template_loaders())
    return messages


def _check_template_loaders() -> list[CheckMessage]:
    """Warn when Django's cached loader wraps the tenant loader (one tenant's wins)."""
    messages: list[CheckMessage] = []
    for engine in engines.all():
        if not isinstance(engine, DjangoTemplates):
            continue
        for loader in engine.engine.template_loaders:
            if (
                isinstance(loader, cached.Loader)
                and not isinstance(loader, CachedLoader)
                and any(isinstance(inner, TenantDirectoriesLoader) for inner in loader.loaders)
            ):
                messages.append(
                    Warning(
                        f"The template engine {engine.name!r} caches the tenant template "
                        "loader with Django's cached loader, whose cache is not per tenant: "
                        "the first tenant to load a template decides it for all.",
                        hint="Wrap TenantDirectoriesLoader in "
                        "'django_omnitenant.loaders.CachedLoader' instead.",
                        id="omnitenant.W004",
                    )
                )
    return messages


def _check_page_caches() -> list[CheckMessage]:
    """Warn when cache_page / {% cache %} write to a cache that is not tenant-aware."""
    uses = {
        getattr(settings, "CACHE_MIDDLEWARE_ALIAS", "default"): "cache_page and the cache "
        "middleware (CACHE_MIDDLEWARE_ALIAS)",
    }
    fragments = "template_fragments" if "template_fragments" in settings.CACHES else "default"
    uses[fragments] = f"{uses[fragments]} and {{% cache %}}" if fragments in uses else "{% cache %}"
    messages: list[CheckMessage] = []
    for alias, users in uses.items():
        config = settings.CACHES.get(alias)
        if config is None:
            continue
        try:
            backend = import_string(config["BACKEND"])
        except ImportError:
            continue  # Django's own cache checks report it
        if not isinstance(backend, type) or issubclass(backend, TenantCacheMixin | DummyCache):
            continue
        messages.append(
            Warning(
                f"The cache {alias!r} is not tenant-aware, and {users} store pages and "
                "fragments in it: inside a tenant they would be served to other tenants "
                "whose URL (or fragment name and vary_on values) is the same.",
                hint="Use a tenant-aware backend for it, e.g. "
                "'omnitenant_backends.cache.RedisCache' instead of Django's, or silence "
                "omnitenant.W003 if no page or fragment is cached inside a tenant.",
                id="omnitenant.W003",
            )
        )
    return messages


def _check_scopes(
    master: frozenset[str], tenant: frozenset[str], shared: frozenset[str]
) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for first, second, names in (
        ("MASTER_APPS", "TENANT_APPS", master & tenant),
        ("MASTER_APPS", "SHARED_APPS", master & shared),
        ("TENANT_APPS", "SHARED_APPS", tenant & shared),
    ):
        if names:
            messages.append(
                Error(
                    f"The apps {sorted(names)} are in both {first} and {second}.",
                    hint="Give each app exactly one scope.",
                    id="omnitenant.E007",
                )
            )
    # "django_cache" is the label Django's database cache routes its tables by; it is
    # never an installed app, and naming it is how its tables get a scope.
    installed = {config.label for config in apps.get_app_configs()} | {"django_cache"}
    unknown = sorted((master | tenant | shared) - installed)
    if unknown:
        messages.append(
            Error(
                f"The scoped apps {unknown} are not installed.",
                hint="Use app labels (the last part of the dotted path), as in INSTALLED_APPS.",
                id="omnitenant.E008",
            )
        )
    return messages


def _check_sites(tenant_sites: bool, scope: str) -> list[CheckMessage]:
    if not apps.is_installed("django.contrib.sites"):
        return []
    if not tenant_sites:
        return [
            Warning(
                "django.contrib.sites caches the current Site per process: every tenant "
                "gets the Site of the first tenant the process served.",
                hint="Set OMNITENANT_CONFIG['TENANT_SITES'] = True, put 'sites' in "
                "SHARED_APPS and set SITE_ID (see docs/sites.md).",
                id="omnitenant.W010",
            )
        ]
    messages: list[CheckMessage] = []
    if scope == "master":
        messages.append(
            Error(
                "TENANT_SITES needs a django_site table in every tenant, but the app "
                "'sites' is in MASTER_APPS.",
                hint="Put 'sites' in SHARED_APPS (the public host keeps the master's Site) "
                "or in TENANT_APPS.",
                id="omnitenant.E011",
            )
        )
    if getattr(settings, "SITE_ID", None) is None:
        messages.append(
            Error(
                "TENANT_SITES needs SITE_ID: without it Django looks the Site up by host, "
                "and a tenant's alias domains have none.",
                hint="Set SITE_ID = 1: each tenant's Site 1 follows its primary domain.",
                id="omnitenant.E012",
            )
        )
    return messages
