"""System checks: catch a misconfiguration at start-up, with how to fix it."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache.backends.dummy import DummyCache
from django.core.checks import CheckMessage, Error, Warning
from django.db import DatabaseError, connections
from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.template.loaders import cached
from django.utils.module_loading import import_string

from django_omnitenant.conf import OmnitenantConfigurationError, app_settings, backend_settings
from django_omnitenant.loaders import CachedLoader, TenantDirectoriesLoader
from django_omnitenant.placement import FEWEST, tenants_per_server
from omnitenant_backends.cache import TenantCacheMixin
from omnitenant_backends.placement import is_omnitenant_engine, servers

__all__ = ["check_configuration", "check_placed_tenants", "check_placement"]

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


def check_placement(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The placement settings name servers that can hold schema tenants, and a policy."""
    try:
        app_conf = app_settings()
        backend_settings()
    except OmnitenantConfigurationError:
        return []  # omnitenant.E001
    messages: list[CheckMessage] = []
    for alias in app_conf.placement_servers:
        problem = _not_a_server(alias)
        if problem:
            messages.append(
                Error(
                    f"OMNITENANT_CONFIG['PLACEMENT_SERVERS'] lists {alias!r}, {problem}.",
                    hint=f"Give the alias ENGINE {_SCHEMA_ENGINE!r} in DATABASES, or remove "
                    "it from PLACEMENT_SERVERS.",
                    id="omnitenant.E020",
                )
            )
    policy = app_conf.placement_policy
    if policy != FEWEST:
        try:
            found = import_string(policy)
        except ImportError as exc:
            found, problem = None, f"cannot be imported ({exc})"
        else:
            problem = "" if callable(found) else "is not a function"
        if problem:
            messages.append(
                Error(
                    f"OMNITENANT_CONFIG['PLACEMENT_POLICY'] = {policy!r} {problem}.",
                    hint=f"Use {FEWEST!r} or the dotted path of a function "
                    "policy(tenant, servers) -> alias.",
                    id="omnitenant.E021",
                )
            )
    return messages


def _not_a_server(alias: str) -> str:
    """Why ``alias`` cannot hold schema tenants; empty when it can."""
    entry = settings.DATABASES.get(alias)
    if entry is None:
        return "which is not in DATABASES"
    if not is_omnitenant_engine(entry.get("ENGINE")):
        return f"whose ENGINE {entry.get('ENGINE')!r} is not omnitenant's PostgreSQL engine"
    return ""


def check_placed_tenants(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """The database check: every tenant's server can hold it, and every server answers."""
    try:
        conf = backend_settings()
    except OmnitenantConfigurationError:
        return []  # omnitenant.E001
    if not databases or conf.master_database not in databases:
        return []
    messages: list[CheckMessage] = []
    try:
        counts = tenants_per_server()
    except DatabaseError:
        return []  # no tenant table yet (a new project's first migrate)
    for alias, tenants in sorted(counts.items()):
        problem = _not_a_server(alias) if tenants and alias not in servers() else ""
        if problem:
            messages.append(
                Error(
                    f"{tenants} schema tenant(s) are placed on the server {alias!r}, "
                    f"{problem}: their requests fail.",
                    hint=f"Put {alias!r} back into DATABASES with ENGINE {_SCHEMA_ENGINE!r} "
                    "(or move the tenants).",
                    id="omnitenant.E022",
                )
            )
    for alias in servers():
        if alias == conf.master_database:
            continue
        try:
            connections[alias].ensure_connection()
        except DatabaseError as exc:
            messages.append(
                Warning(
                    f"The server {alias!r} cannot be reached now: {' '.join(str(exc).split())}",
                    hint="Its schema tenants fail until it answers; check the server and its "
                    "DATABASES entry.",
                    id="omnitenant.W020",
                )
            )
    return messages
