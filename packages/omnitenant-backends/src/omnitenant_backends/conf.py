"""The ``OMNITENANT_CONFIG`` keys the backends read (storage, scopes of apps, the engine).

Each key is declared once below (see :mod:`omnitenant_backends.config` for the mechanism);
``backend_settings()`` returns them validated and typed. The Django app declares the keys
only it reads in :mod:`django_omnitenant.conf`. Reading a setting is an attribute lookup on
a cached object: cheap enough for the router, which asks on every query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from omnitenant_backends.config import (
    OmnitenantConfigurationError,
    SettingsGroup,
    app_labels,
    flag,
    mapping,
    one_of,
    optional_path,
    optional_text,
    positive_int,
    setting,
    text,
)
from omnitenant_context import check_identifier

__all__ = [
    "AppScope",
    "BackendSettings",
    "OmnitenantConfigurationError",
    "backend_settings",
]

AppScope = Literal["master", "tenant", "shared"]

_NAMES: Final = "Models and names"
_SCOPES: Final = "Scopes of apps"
_SCHEMA: Final = "Schema tenants"
_DATABASE: Final = "Database tenants"

_app_scope: Final[Callable[[object], AppScope]] = one_of("master", "tenant", "shared")


def _non_negative_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"must be zero or a positive integer, not {value!r}")
    return value


def _schema_names(value: object) -> tuple[str, ...]:
    """A list of schema names, each passing the identifier rule."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"must be a list of schema names, not {value!r}")
    names: list[str] = []
    for name in value:
        checked = check_identifier(name, what="schema name")
        if checked not in names:
            names.append(checked)
    return tuple(names)


@dataclass(frozen=True, slots=True)
class BackendSettings:
    """The validated, immutable settings of the backends, defaults filled in."""

    tenant_model: str | None = setting(
        "TENANT_MODEL",
        None,
        parse=optional_text,
        section=_NAMES,
        doc='Your subclass of `django_omnitenant.models.BaseTenant`, as `"app_label.ModelName"`. '
        "Required (system check `omnitenant.E002` / `E003`). Its app is master-scoped "
        "without being listed in `MASTER_APPS`; listing it in `TENANT_APPS` or "
        "`SHARED_APPS` is an error (`E004`).",
    )
    domain_model: str | None = setting(
        "DOMAIN_MODEL",
        None,
        parse=optional_text,
        section=_NAMES,
        doc='Your subclass of `BaseDomain`, as `"app_label.ModelName"`. Required. Its app '
        "is master-scoped like the tenant model's.",
    )
    public_schema: str = setting(
        "PUBLIC_TENANT_NAME",
        "public",
        parse=text,
        section=_NAMES,
        doc="The PostgreSQL schema that holds the master's tables. No tenant may own it "
        "or drop it.",
    )
    master_database: str = setting(
        "MASTER_DATABASE",
        "default",
        parse=text,
        section=_NAMES,
        doc="The `DATABASES` alias of the master database (check `E006` if it is "
        "missing). No tenant may use or drop it.",
    )
    master_apps: frozenset[str] = setting(
        "MASTER_APPS",
        (),
        parse=app_labels,
        section=_SCOPES,
        doc="App labels whose tables exist only in the master database (tenants, domains, "
        "plans, billing).",
    )
    tenant_apps: frozenset[str] = setting(
        "TENANT_APPS",
        (),
        parse=app_labels,
        section=_SCOPES,
        doc="App labels whose tables exist in every tenant and never in the master. "
        "Queries need an active tenant.",
    )
    shared_apps: frozenset[str] = setting(
        "SHARED_APPS",
        (),
        parse=app_labels,
        section=_SCOPES,
        doc="App labels whose tables exist in both; queries follow the active tenant, or "
        "go to the master without one.",
    )
    default_app_scope: AppScope = setting(
        "DEFAULT_APP_SCOPE",
        "shared",
        parse=_app_scope,
        section=_SCOPES,
        doc='Scope of an app listed nowhere: `"master"`, `"tenant"` or `"shared"`. While '
        "it is left at its default, check `omnitenant.W002` lists the apps that fall back "
        "to it.",
    )
    schema_template: str | None = setting(
        "SCHEMA_TEMPLATE",
        "omnitenant_template",
        parse=optional_text,
        section=_SCHEMA,
        doc="A schema kept migrated and copied for each new schema tenant instead of "
        "running every migration. `None` switches cloning off. The name is reserved: no "
        "tenant can own or drop it.",
    )
    clone_schema_template: bool = setting(
        "CLONE_SCHEMA_TEMPLATE",
        True,
        parse=flag,
        section=_SCHEMA,
        doc="`False` runs the migrations for every new tenant instead of cloning.",
    )
    extension_schemas: tuple[str, ...] = setting(
        "EXTENSION_SCHEMAS",
        (),
        parse=_schema_names,
        section=_SCHEMA,
        doc="Schemas that hold only extensions (their functions, types, operators), put "
        "on every `search_path` after the tenant's (or the shared) schema. A schema tenant's "
        "path holds nothing else: a table missing from the tenant's schema is an error, "
        "never the master's rows. Checked once per process to hold no table, view or "
        "sequence an extension does not own; the shared schema is refused.",
    )
    database_defaults: Mapping[str, Any] = setting(
        "DATABASE_DEFAULTS",
        {},
        parse=mapping,
        section=_DATABASE,
        doc="Keys merged *under* each tenant's `database_config` (the tenant's own values "
        "win), e.g. a common `HOST`, `USER`, `CONN_MAX_AGE`.",
    )
    sqlite_directory: Path | None = setting(
        "SQLITE_DIRECTORY",
        None,
        parse=optional_path,
        section=_DATABASE,
        doc="Where SQLite tenant files go (`<tenant_id>.sqlite3`). Default: a `tenants` "
        'directory next to the master\'s SQLite file, else `BASE_DIR / "tenants"`; '
        "without either, using an SQLite tenant is a configuration error.",
    )
    postgres_template_database: str | None = setting(
        "POSTGRES_TEMPLATE_DATABASE",
        None,
        parse=optional_text,
        section=_DATABASE,
        doc="When set, `CREATE DATABASE ... TEMPLATE <this>` for new PostgreSQL database "
        "tenants. The name must pass the identifier rule.",
    )
    max_open_tenant_connections: int = setting(
        "MAX_OPEN_TENANT_CONNECTIONS",
        32,
        parse=positive_int,
        section=_DATABASE,
        doc="Per process (all threads together), at most this many database tenants' "
        "connections are held; past that the least recently used idle one is closed and "
        "its alias leaves Django's connection handler. A connection in a transaction or "
        "with an open cursor (an unfinished `.iterator()`) is never closed; another "
        "thread's is closed by that thread at its next tenant switch or request end. A "
        "positive integer. See [isolation.md](isolation.md#connections-of-database-tenants).",
    )
    atomic_follows_tenant: bool = setting(
        "ATOMIC_FOLLOWS_TENANT",
        True,
        parse=flag,
        section=_DATABASE,
        doc="`transaction.atomic()` and `ATOMIC_REQUESTS` on the default alias also cover "
        "the active database tenant's alias (switched on by the app's start-up). `False`: "
        "they do not, and a write to a database tenant inside such a block raises "
        "`TransactionManagementError`. See "
        "[isolation.md](isolation.md#transactions-of-database-tenants).",
    )

    warm_pool_size: int = setting(
        "WARM_POOL_SIZE",
        0,
        parse=_non_negative_int,
        section=_SCHEMA,
        doc="Keep this many migrated, unclaimed schemas ready (`fillwarmpool`); creating a "
        "schema tenant renames one instead of cloning or migrating. `0`: no pool. See "
        "[operations.md](operations.md#the-warm-pool-of-schemas).",
    )

    def __post_init__(self) -> None:
        if self.public_schema in self.extension_schemas:
            raise OmnitenantConfigurationError(
                f"OMNITENANT_CONFIG['EXTENSION_SCHEMAS'] names the shared schema "
                f"{self.public_schema!r}, which holds the master's tables: move the "
                "extensions to a schema of their own."
            )

    def app_scope(self, app_label: str) -> AppScope:
        """Return the scope of ``app_label``.

        An app listed in a scope has that scope. The apps of ``TENANT_MODEL`` and
        ``DOMAIN_MODEL`` are ``master`` without being listed: the tenant and domain rows
        can live nowhere else (listing them elsewhere is check ``omnitenant.E004``). Any
        other app has ``DEFAULT_APP_SCOPE``.
        """
        if app_label in self.tenant_apps:
            return "tenant"
        if app_label in self.master_apps:
            return "master"
        if app_label in self.shared_apps:
            return "shared"
        if app_label in self.model_apps:
            return "master"
        return self.default_app_scope

    @property
    def model_apps(self) -> frozenset[str]:
        """The app labels of ``TENANT_MODEL`` and ``DOMAIN_MODEL`` (master by definition)."""
        return frozenset(
            label.partition(".")[0]
            for label in (self.tenant_model, self.domain_model)
            if label and "." in label
        )


#: The backends' settings: ``backend_settings()`` returns the current :class:`BackendSettings`.
backend_settings: Final = SettingsGroup(BackendSettings, package="omnitenant_backends")
