"""``BaseTenant`` and ``BaseDomain``: the abstract models a project subclasses.

::

    # myapp/models.py
    from django_omnitenant.models import BaseDomain, BaseTenant

    class Tenant(BaseTenant):
        pass

    class Domain(BaseDomain):
        pass

    # settings.py
    OMNITENANT_CONFIG = {"TENANT_MODEL": "myapp.Tenant", "DOMAIN_MODEL": "myapp.Domain", ...}

Identifiers are checked on every save path, not only in forms: ``save()`` (and therefore
``objects.create()``), ``bulk_create()`` and ``update()`` all refuse an invalid tenant id or
schema name. Storage names (the tenant id, the schema name, the isolation type and a
database tenant's database name) are unique by database constraints and can never be
changed once the row exists: ``save()``, ``update()`` and ``bulk_update()`` refuse it with a
``ValidationError``. Domains are normalised on every write path (``save()``,
``bulk_create()``, ``bulk_update()``, ``update()``).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.utils import timezone

if TYPE_CHECKING:
    from django.db.models.expressions import Combinable

from django_omnitenant.conf import OmnitenantConfigurationError, backend_settings
from django_omnitenant.constants import IsolationType, TenantStatus
from django_omnitenant.stores import invalidate_tenant_cache
from django_omnitenant.validators import validate_domain, validate_schema_name, validate_tenant_id
from omnitenant_context import InvalidHost
from omnitenant_resolvers import normalize_host

__all__ = [
    "BaseDomain",
    "BaseTenant",
    "DomainManager",
    "DomainQuerySet",
    "TenantManager",
    "TenantQuerySet",
    "TenantQuerySetManager",
    "TenantStateChange",
]

_M = TypeVar("_M", bound=models.Model)
# Set while bulk_update() (whose objects were checked) runs Django's update().
_checked_bulk_update: ContextVar[bool] = ContextVar("omnitenant_checked_bulk_update", default=False)
_T = TypeVar("_T", bound="BaseTenant")
_D = TypeVar("_D", bound="BaseDomain")

# Renaming these would orphan the tenant's schema or database (the server: the schema on
# it); only a move (django_omnitenant.moves) changes the isolation type and the server.
_IMMUTABLE_FIELDS = frozenset({"tenant_id", "schema_name", "isolation_type", "server"})
# A database tenant's database (or SQLite file) is named by this key of database_config.
_DATABASE_NAME_KEY = "NAME"
_ISOLATION_CHOICES = [(member.value, member.name.title()) for member in IsolationType]
_ISOLATION_VALUES = frozenset(member.value for member in IsolationType)


class _LookupSourceQuerySet(models.QuerySet[_M]):
    """A query set whose bulk writes change what the resolvers may have cached.

    ``update()`` and ``delete()`` send no model signal, so they invalidate the cached
    tenant lookups themselves (in every process, once the transaction commits).
    """

    def _prepare_update(self, values: dict[str, Any]) -> None:
        """Check or normalise the values of an ``update()``; raise to refuse it."""

    def update(self, **kwargs: Any) -> int:
        if not _checked_bulk_update.get():
            self._prepare_update(kwargs)
        changed = super().update(**kwargs)
        _tenant_data_changed()
        return changed

    def _checked_bulk_update(
        self, objs: list[_M], fields: list[str], *args: Any, **kwargs: Any
    ) -> int:
        """``bulk_update()`` whose values were checked already.

        Django's ``bulk_update()`` runs ``update()`` with ``CASE`` expressions, which
        ``_prepare_update()`` cannot read; the objects were checked before.
        """
        token = _checked_bulk_update.set(True)
        try:
            changed = super().bulk_update(objs, fields, *args, **kwargs)
        finally:
            _checked_bulk_update.reset(token)
        _tenant_data_changed()
        return changed

    def delete(self) -> tuple[int, dict[str, int]]:
        deleted = super().delete()
        _tenant_data_changed()
        return deleted


class TenantQuerySet(_LookupSourceQuerySet[_T]):
    """Query set of tenants."""

    def active(self) -> Self:
        """Tenants that may be served."""
        return self.filter(status=TenantStatus.ACTIVE)

    def of_type(self, isolation_type: str) -> Self:
        """Tenants of one isolation type."""
        return self.filter(isolation_type=isolation_type)

    def _prepare_update(self, values: dict[str, Any]) -> None:
        renamed = sorted(_IMMUTABLE_FIELDS & set(values))
        if renamed:
            raise _storage_renamed(renamed, "update()")
        if "database_config" in values:
            new_config = values["database_config"]
            if not isinstance(new_config, dict):
                raise ValidationError("update(database_config=...) takes a dict.")
            for tenant_id, old_config in self.values_list("tenant_id", "database_config"):
                if _database_name(old_config) != _database_name(new_config):
                    raise _storage_renamed(["database_config['NAME']"], "update()", tenant_id)

    def bulk_update(
        self, objs: Iterable[_T], fields: Iterable[str], *args: Any, **kwargs: Any
    ) -> int:
        objs = list(objs)
        fields = list(fields)
        renamed = sorted(_IMMUTABLE_FIELDS & set(fields))
        if renamed:
            raise _storage_renamed(renamed, "bulk_update()")
        if "database_config" in fields:
            stored = dict(
                self.model._default_manager.using(self.db)
                .filter(pk__in=[obj.pk for obj in objs])
                .values_list("pk", "database_config")
            )
            for obj in objs:
                if _database_name(stored.get(obj.pk)) != _database_name(obj.database_config):
                    raise _storage_renamed(
                        ["database_config['NAME']"], "bulk_update()", obj.tenant_id
                    )
        return self._checked_bulk_update(objs, fields, *args, **kwargs)


class _TenantManagerBase(models.Manager[_T]):
    def bulk_create(self, objs: Iterable[_T], *args: Any, **kwargs: Any) -> list[_T]:
        objs = list(objs)
        for obj in objs:
            obj.prepare_identifiers()
        return super().bulk_create(objs, *args, **kwargs)


# Built from the query set, so that its methods (``active()``, ``of_type()``) follow any
# other query set method too, for mypy as well (django-stubs types ``from_queryset`` at
# module level); the subclass below keeps the manager generic in the model.
_TenantManagerFromQuerySet = _TenantManagerBase.from_queryset(TenantQuerySet)


class TenantManager(_TenantManagerFromQuerySet[_T]):
    """The default manager of tenant models (``Tenant.objects``).

    It has the query set's methods: ``Tenant.objects.active()``, and
    ``Tenant.objects.order_by("name").active()`` type-checks as well.
    """


#: The name the API reference gives the tenant manager; the same class.
TenantQuerySetManager = TenantManager


class BaseTenant(models.Model):
    """A customer of the deployment, with its isolation settings.

    Satisfies :class:`omnitenant_context.Tenant`. ``schema_name`` defaults to the tenant
    id; ``server`` names the ``DATABASES`` alias whose server holds the schema (empty: the
    master; see ``docs/scaling.md``); ``database_config`` holds the connection settings of
    a database tenant (merged over ``OMNITENANT_CONFIG['DATABASE_DEFAULTS']``) and may hold
    a password: it is never shown by omnitenant's commands, admin or logs.
    """

    tenant_id = models.CharField(
        max_length=63,
        unique=True,
        validators=[validate_tenant_id],
        help_text="Unique and permanent: lower-case letters, digits and '_'.",
    )
    name = models.CharField(max_length=255)
    isolation_type = models.CharField(
        max_length=16, choices=_ISOLATION_CHOICES, default=IsolationType.SCHEMA.value
    )
    schema_name = models.CharField(
        max_length=63,
        blank=True,
        validators=[validate_schema_name],
        help_text="Schema tenants: the PostgreSQL schema (defaults to the tenant id).",
    )
    server = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="Schema tenants: the DATABASES alias of the PostgreSQL server that holds "
        "the schema; empty: the master. Chosen at creation, changed only by moving the tenant.",
    )
    database_config = models.JSONField(
        default=dict,
        blank=True,
        help_text="Database tenants: connection settings (ENGINE, NAME, HOST, ...).",
    )
    status = models.CharField(
        max_length=32,
        choices=TenantStatus,
        default=TenantStatus.ACTIVE,
        help_text="The lifecycle state; changed only through django_omnitenant.provisioning.",
    )
    status_detail = models.TextField(
        blank=True,
        default="",
        help_text="Why the tenant is in its state (the error of a failed provisioning).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[TenantManager[Self]] = TenantManager()
    # The storage names as loaded or last saved; save() refuses to change them.
    _stored_storage_names: dict[str, object] | None = None

    class Meta:
        abstract = True
        ordering = ("tenant_id",)
        constraints = (
            # Two tenants never share storage: purging one would drop the other's data.
            models.UniqueConstraint(
                fields=["schema_name"],
                name="%(app_label)s_%(class)s_unique_schema_name",
                violation_error_message="Another tenant uses this schema name already.",
            ),
            # A database tenant's database: its NAME, or the tenant id it defaults to.
            models.UniqueConstraint(
                # output_field: the JSON key is text and the id a varchar; Django 6.0
                # refuses to guess the type when it validates the constraint.
                Coalesce(
                    KeyTextTransform(_DATABASE_NAME_KEY, "database_config"),
                    "tenant_id",
                    output_field=models.TextField(),
                ),
                condition=models.Q(isolation_type=IsolationType.DATABASE.value),
                name="%(app_label)s_%(class)s_unique_database_name",
                violation_error_message="Another tenant uses this database already.",
            ),
        )

    def __str__(self) -> str:
        return f"{self.name} ({self.tenant_id})" if self.name else self.tenant_id

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.prepare_identifiers()
        if not self._state.adding and self.pk is not None:
            self._refuse_storage_rename(kwargs.get("using"))
        super().save(*args, **kwargs)
        self._stored_storage_names = self._storage_names()

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> Self:
        # (db, field_names, values[, fetch_mode]): the signature changes across Django versions.
        instance = super().from_db(*args, **kwargs)
        instance._stored_storage_names = instance._storage_names()
        return instance

    def _storage_names(self) -> dict[str, object]:
        names: dict[str, object] = {field: getattr(self, field) for field in _IMMUTABLE_FIELDS}
        names["database_config['NAME']"] = _database_name(self.database_config)
        return names

    def _refuse_storage_rename(self, using: str | None) -> None:
        stored = self._stored_storage_names
        if stored is None:
            # Made by hand with a primary key, not loaded: ask the database.
            row = (
                type(self)
                ._default_manager.using(using or self._state.db or "default")
                .filter(pk=self.pk)
                .first()
            )
            if row is None:
                return
            stored = row._storage_names()
        current = self._storage_names()
        renamed = sorted(name for name, value in current.items() if stored.get(name) != value)
        if renamed:
            raise _storage_renamed(renamed, "save()", self.tenant_id)

    def get_urlconf(self) -> str | None:
        """This tenant's own URLconf (a dotted module path), or ``None`` for the default.

        Override it (for example to return a field) to give some tenants their own
        URLconf; ``None`` uses ``OMNITENANT_CONFIG['TENANT_URLCONF']`` or ``ROOT_URLCONF``.
        """
        return None

    @property
    def database_alias(self) -> str:
        """The connection alias under which the tenant's database is registered."""
        return f"tenant_{self.tenant_id}"

    @property
    def cache_namespace(self) -> str:
        """The prefix of the tenant's cache keys."""
        return self.tenant_id

    @property
    def is_active(self) -> bool:
        """Whether the tenant may be served."""
        return self.status == TenantStatus.ACTIVE

    @property
    def is_read_only(self) -> bool:
        """Whether the tenant's data may only be read: it is in maintenance.

        The omnitenant PostgreSQL engine makes every transaction on the tenant's storage
        read-only while the context is in this tenant (this object's state, read when
        the scope is entered), whichever way it was entered.
        """
        return self.status == TenantStatus.MAINTENANCE

    def prepare_identifiers(self) -> None:
        """Fill ``schema_name`` and check every identifier; raise ``ValidationError``."""
        validate_tenant_id(self.tenant_id)
        if self.isolation_type not in _ISOLATION_VALUES:
            raise ValidationError(
                f"isolation_type must be one of {sorted(_ISOLATION_VALUES)}, "
                f"not {self.isolation_type!r}."
            )
        if not self.schema_name:
            self.schema_name = self.tenant_id
        validate_schema_name(self.schema_name)


def _tenant_model_reference() -> str:
    tenant_model = backend_settings().tenant_model
    if not tenant_model:
        raise OmnitenantConfigurationError(
            "OMNITENANT_CONFIG['TENANT_MODEL'] is not set: set it to your subclass of "
            "django_omnitenant.models.BaseTenant, as 'app_label.ModelName'."
        )
    return tenant_model


class DomainQuerySet(_LookupSourceQuerySet[_D]):
    """Query set of domains."""

    def primary(self) -> Self:
        """Only the primary domain of each tenant."""
        return self.filter(is_primary=True)

    def _prepare_update(self, values: dict[str, Any]) -> None:
        if "domain" in values:
            values["domain"] = _normalised_domain(values["domain"])

    def bulk_create(self, objs: Iterable[_D], *args: Any, **kwargs: Any) -> list[_D]:
        objs = list(objs)
        for obj in objs:
            obj.domain = _normalised_domain(obj.domain)
        created = super().bulk_create(objs, *args, **kwargs)
        _tenant_data_changed()
        return created

    def bulk_update(
        self, objs: Iterable[_D], fields: Iterable[str], *args: Any, **kwargs: Any
    ) -> int:
        objs = list(objs)
        fields = list(fields)
        if "domain" in fields:
            for obj in objs:
                obj.domain = _normalised_domain(obj.domain)
        return self._checked_bulk_update(objs, fields, *args, **kwargs)


class _DomainManagerBase(models.Manager[_D]):
    pass


_DomainManagerFromQuerySet = _DomainManagerBase.from_queryset(DomainQuerySet)


class DomainManager(_DomainManagerFromQuerySet[_D]):
    """The default manager of domain models, with the query set's ``primary()``."""


class _TenantForeignKey(models.ForeignKey["BaseTenant | Combinable", "BaseTenant"]):
    """``BaseDomain.tenant``: a plain ``ForeignKey`` that accepts any ``BaseTenant`` for mypy.

    The target model is ``TENANT_MODEL``, known only from the settings; django-stubs would
    expect that exact class, so a tenant from ``get_tenant_model()`` (typed ``BaseTenant``)
    needed a cast to become a domain's tenant. django-stubs reads the accepted type from
    ``_pyi_private_set_type`` of the field's class. Django checks the model at run time as
    for any foreign key, and migrations see Django's own ``ForeignKey``.
    """

    _pyi_private_set_type: BaseTenant | Combinable

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.ForeignKey", args, kwargs


class BaseDomain(models.Model):
    """A host that serves a tenant. A tenant has many domains and at most one primary.

    The host is stored normalised (lower case, no port or trailing dot, IDNA), exactly as
    the resolvers look it up.
    """

    tenant = _TenantForeignKey(
        _tenant_model_reference(), on_delete=models.CASCADE, related_name="domains"
    )
    domain = models.CharField(max_length=253, unique=True, validators=[validate_domain])
    is_primary = models.BooleanField(default=False)

    objects: ClassVar[DomainManager[Self]] = DomainManager()

    class Meta:
        abstract = True
        ordering = ("domain",)
        constraints = (
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(is_primary=True),
                name="%(app_label)s_%(class)s_one_primary_domain",
            ),
        )

    def __str__(self) -> str:
        return self.domain

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.domain = _normalised_domain(self.domain)
        super().save(*args, **kwargs)


class TenantStateChange(models.Model):
    """One move of a tenant between lifecycle states: the tenant's history.

    Written by :mod:`django_omnitenant.provisioning` (the one place states change), in
    the transaction of the change itself, so the history never disagrees with
    ``status``. Keyed by the tenant id, not a foreign key: the history of a purged tenant
    stays (its last row is ``purged``). ``actor`` is who asked for it
    (:func:`django_omnitenant.provisioning.acting_as`; empty for code that did not say).
    """

    tenant_id = models.CharField(max_length=63, db_index=True)
    previous = models.CharField(max_length=32, blank=True, default="")
    state = models.CharField(max_length=32)
    detail = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=150, blank=True, default="")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "django_omnitenant"
        ordering = ("-changed_at", "-id")
        verbose_name = "tenant state change"

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.previous or '-'} -> {self.state}"


def _change_storage(tenant: BaseTenant, *, status: str, **values: Any) -> None:
    """Change the storage fields of ``tenant`` (``isolation_type``, ``database_config``).

    The one way past the protection of the storage names, for
    :mod:`django_omnitenant.moves` only: a move has made and verified the new storage and
    calls this inside the master transaction that switches the tenant to it. A
    compare-and-set on ``status``: nothing changes if the tenant left it meanwhile.
    """
    token = _checked_bulk_update.set(True)
    try:
        changed = type(tenant)._default_manager.filter(pk=tenant.pk, status=status).update(**values)
    finally:
        _checked_bulk_update.reset(token)
    if not changed:
        raise ValidationError(
            f"Tenant {tenant.tenant_id!r} is no longer {status}; its storage was not changed.",
            code="changed_meanwhile",
        )
    for name, value in values.items():
        setattr(tenant, name, value)
    tenant._stored_storage_names = tenant._storage_names()


def _database_name(config: object) -> object:
    return config.get(_DATABASE_NAME_KEY) if isinstance(config, dict) else None


def _storage_renamed(fields: list[str], path: str, tenant_id: str | None = None) -> ValidationError:
    whose = f" of tenant {tenant_id!r}" if tenant_id else ""
    return ValidationError(
        f"{', '.join(fields)}{whose} cannot be changed by {path}: the tenant's storage is "
        "named after it. Create a new tenant and move the data instead.",
        code="storage_renamed",
    )


def _normalised_domain(value: object) -> str:
    try:
        return normalize_host(value)  # type: ignore[arg-type]  # non-strings refused inside
    except InvalidHost as exc:
        raise ValidationError(str(exc), code="invalid_domain") from exc


def _tenant_data_changed() -> None:
    invalidate_tenant_cache()
