"""The ``OMNITENANT_CONFIG`` keys only the Django app reads (models, hosts, the lookup cache).

Each key is declared once below (see :mod:`omnitenant_backends.config` for the mechanism);
``app_settings()`` returns them validated and typed. The keys the backends read (and this
app reads too: the master database, the scopes of apps, ...) are declared in
:mod:`omnitenant_backends.conf` and read with ``backend_settings()``. ``docs/configuration.md``
lists every key; its table is generated from these definitions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from django.conf import settings

from omnitenant_backends.conf import (
    AppScope,
    BackendSettings,
    OmnitenantConfigurationError,
    backend_settings,
)
from omnitenant_backends.config import (
    SettingsGroup,
    flag,
    non_negative_number,
    one_of,
    optional_text,
    positive_int,
    positive_number,
    setting,
    text,
)

__all__ = [
    "AppScope",
    "AppSettings",
    "BackendSettings",
    "OmnitenantConfigurationError",
    "SuspendedResponse",
    "UnknownHost",
    "app_settings",
    "backend_settings",
]

UnknownHost = Literal["not_found", "public"]
SuspendedResponse = Literal["forbidden", "not_found"]

_NAMES: Final = "Models and names"
_CACHE: Final = "The cached tenant lookup"
_HOSTS: Final = "Unknown hosts"
_LIFECYCLE: Final = "Lifecycle states and provisioning"
_STATE: Final = "Process state per tenant"
_PLACEMENT: Final = "Placement of schema tenants on servers"


def _aliases(value: object) -> tuple[str, ...]:
    """A list of ``DATABASES`` aliases (checked against ``DATABASES`` by the system checks)."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"must be a list of DATABASES aliases, not {value!r}")
    if not all(isinstance(alias, str) and alias for alias in value):
        raise ValueError(f"must hold non-empty alias names, not {value!r}")
    return tuple(dict.fromkeys(value))


_unknown_host: Final[Callable[[object], UnknownHost]] = one_of("not_found", "public")
_suspended_response: Final[Callable[[object], SuspendedResponse]] = one_of("forbidden", "not_found")


def _optional_positive_int(value: object) -> int | None:
    return None if value is None else positive_int(value)


@dataclass(frozen=True, slots=True)
class AppSettings:
    """The validated, immutable settings of the Django app, defaults filled in."""

    public_host: str | None = setting(
        "PUBLIC_HOST",
        None,
        parse=optional_text,
        section=_NAMES,
        doc="The host that serves the master site with no tenant (`request.tenant` is "
        '`None`), e.g. `"example.com"`. Also the base domain of `SubdomainTenantResolver`, '
        "which refuses to start without it.",
    )
    master_tenant_name: str = setting(
        "MASTER_TENANT_NAME",
        "master",
        parse=text,
        section=_NAMES,
        doc="How commands address the master: `--tenant master`. It is a name only; no "
        "tenant row has it.",
    )
    tenant_resolver: str = setting(
        "TENANT_RESOLVER",
        "django_omnitenant.resolvers.CustomDomainTenantResolver",
        parse=text,
        section=_NAMES,
        doc="Dotted path of the resolver class the middleware instantiates with no "
        "arguments. See [request-flow.md](request-flow.md).",
    )
    tenant_cache_ttl: float = setting(
        "TENANT_CACHE_TTL",
        3600.0,
        parse=positive_number,
        section=_CACHE,
        doc="Seconds a resolved tenant stays in a process's memory. Saves and deletes "
        "invalidate explicitly; the TTL bounds how long a raw SQL change goes unseen. "
        "Positive.",
    )
    tenant_cache_negative_ttl: float = setting(
        "TENANT_CACHE_NEGATIVE_TTL",
        30.0,
        parse=positive_number,
        section=_CACHE,
        doc="Seconds an unknown host or id stays cached as unknown. Positive.",
    )
    tenant_cache_max_size: int = setting(
        "TENANT_CACHE_MAX_SIZE",
        10_000,
        parse=positive_int,
        section=_CACHE,
        doc="Entries per process (least recently used evicted first). A positive integer.",
    )
    tenant_cache_alias: str = setting(
        "TENANT_CACHE_ALIAS",
        "default",
        parse=text,
        section=_CACHE,
        doc="The `CACHES` alias holding the shared invalidation version. Use a cache every "
        "process shares (Redis, memcached, the database cache); with `LocMemCache` each "
        "process has its own version and does not hear other processes' changes until "
        "the TTL.",
    )
    tenant_cache_version_check_interval: float = setting(
        "TENANT_CACHE_VERSION_CHECK_INTERVAL",
        1.0,
        parse=non_negative_number,
        section=_CACHE,
        doc="Seconds between two reads of the shared version. Other processes see a "
        "change within this time; the process that made it sees it at once. `0` reads the "
        "version on every lookup (one cache read, e.g. a Redis round trip, per request).",
    )
    unknown_host: UnknownHost = setting(
        "UNKNOWN_HOST",
        "not_found",
        parse=_unknown_host,
        section=_HOSTS,
        doc='What the middleware does with a host that names no tenant: `"not_found"` '
        'answers 404, `"public"` serves it without a tenant, like `PUBLIC_HOST`.',
    )
    bind_signing_to_tenant: bool = setting(
        "BIND_SIGNING_TO_TENANT",
        True,
        parse=flag,
        section=_STATE,
        doc="Values signed inside a tenant (`django.core.signing`, signed cookies, "
        "sessions, password-reset tokens) verify in that tenant only: `SECRET_KEY` and "
        "its fallbacks are derived per tenant. See "
        "[security.md](security.md#signed-values). `False`: one key for all.",
    )
    public_urlconf: str | None = setting(
        "PUBLIC_URLCONF",
        None,
        parse=optional_text,
        section=_STATE,
        doc="Dotted path of the URLconf of `PUBLIC_HOST` (and of unknown hosts served as "
        "public). `None`: `ROOT_URLCONF`. See [urlconfs.md](urlconfs.md).",
    )
    tenant_urlconf: str | None = setting(
        "TENANT_URLCONF",
        None,
        parse=optional_text,
        section=_STATE,
        doc="Dotted path of the URLconf of tenants. `None`: `ROOT_URLCONF`. A tenant's "
        "`get_urlconf()` may name another one.",
    )
    urlconf_per_tenant: bool = setting(
        "URLCONF_PER_TENANT",
        False,
        parse=flag,
        section=_STATE,
        doc="`True`: the `TENANT_URLCONF` module is executed once per tenant, inside it "
        "(for URLconfs built from the tenant's rows), and cached until "
        "`invalidate_urlconfs()`. Needs `TENANT_URLCONF` other than `ROOT_URLCONF`.",
    )
    tenant_sites: bool = setting(
        "TENANT_SITES",
        False,
        parse=flag,
        section=_STATE,
        doc="`django.contrib.sites` per tenant: the current Site is cached per tenant and "
        "each tenant's Site (`pk=SITE_ID`) follows its primary domain. Needs `sites` in "
        "`SHARED_APPS` and `SITE_ID`. See [sites.md](sites.md).",
    )

    suspended_response: SuspendedResponse = setting(
        "SUSPENDED_RESPONSE",
        "forbidden",
        parse=_suspended_response,
        section=_LIFECYCLE,
        doc='What a suspended tenant\'s host answers: `"forbidden"` (403) or `"not_found"` '
        "(404, as if the tenant did not exist). See "
        "[operations.md](operations.md#lifecycle-states).",
    )
    maintenance_allow_reads: bool = setting(
        "MAINTENANCE_ALLOW_READS",
        False,
        parse=flag,
        section=_LIFECYCLE,
        doc="`True` serves GET, HEAD and OPTIONS of a tenant in maintenance on a read-only "
        "database session (a write the view attempts answers 503); `False` answers 503 to "
        "every request.",
    )
    retry_after: int = setting(
        "RETRY_AFTER",
        30,
        parse=positive_int,
        section=_LIFECYCLE,
        doc="Seconds in the `Retry-After` header of the 503 answered for a tenant in "
        "`provisioning` or `maintenance`. A positive integer.",
    )
    provisioning_celery_app: str | None = setting(
        "PROVISIONING_CELERY_APP",
        None,
        parse=optional_text,
        section=_LIFECYCLE,
        doc="Dotted path of the Celery app that runs background provisioning "
        "(`createtenant --background`). Default: the app given to "
        "`django_omnitenant.patches.celery.install()`.",
    )
    migrate_jobs_per_server: int | None = setting(
        "MIGRATE_JOBS_PER_SERVER",
        None,
        parse=_optional_positive_int,
        section=_LIFECYCLE,
        doc="`migratealltenants --jobs`: at most this many tenants migrate at once on one "
        "database server (a `HOST:PORT`; all SQLite files count as one). Tenants on other "
        "servers run beside them. `None`: only `--jobs` limits. `--jobs-per-server` overrides "
        "it for one run.",
    )
    placement_policy: str = setting(
        "PLACEMENT_POLICY",
        "fewest",
        parse=text,
        section=_PLACEMENT,
        doc="Which server a new schema tenant goes to when `createtenant --server` (or "
        '`create_tenant(server=...)`) names none: `"fewest"`, the server with the fewest '
        "schema tenants (the master first on a tie), or the dotted path of your function "
        "`policy(tenant, servers) -> alias`. See [scaling.md](scaling.md#placement).",
    )
    placement_servers: tuple[str, ...] = setting(
        "PLACEMENT_SERVERS",
        (),
        parse=_aliases,
        section=_PLACEMENT,
        doc="The servers the policy may choose from, in order. Empty: the master alone "
        "(an alias added to `DATABASES`, a replica or a direct way past PgBouncer, never "
        "receives tenants unless listed). Take a full server out of the list to stop "
        "placing new tenants on it. An explicit `--server` may name any server.",
    )

    def __post_init__(self) -> None:
        if self.urlconf_per_tenant and self.tenant_urlconf in (
            None,
            getattr(settings, "ROOT_URLCONF", None),
        ):
            raise OmnitenantConfigurationError(
                "OMNITENANT_CONFIG['URLCONF_PER_TENANT'] needs TENANT_URLCONF set to the "
                "URLconf built per tenant, and not to ROOT_URLCONF: Django imports "
                "ROOT_URLCONF outside any tenant (system checks, every management command), "
                "where tenant rows cannot be read."
            )


#: The Django app's settings: ``app_settings()`` returns the current :class:`AppSettings`.
app_settings: Final = SettingsGroup(AppSettings, package="django_omnitenant")
