"""The one place that creates tenants, moves them through their lifecycle and deletes them.

Every caller goes through here: ``createtenant``, ``deletetenant``, the admin, the test
helpers, the example site and your own code. The storage itself is made by the tenant's
backend through the :class:`omnitenant_context.TenantBackend` interface; this module owns
the order of the steps and what happens when one fails.

::

    from django_omnitenant import provisioning

    acme = provisioning.create_tenant("acme", name="ACME", domains=["acme.example.com"])
    provisioning.start_maintenance(acme)      # read-only, enforced by the database
    provisioning.end_maintenance(acme)
    provisioning.mark_for_deletion(acme)      # no longer served, data kept
    provisioning.purge_tenant(acme)           # storage and row dropped

Creation is all or nothing for every isolation type: the row, the domains, the storage,
the migrations and the ``tenant_created`` receivers commit together. Storage that lives
outside the master transaction (a tenant's own database) is removed again when the master
transaction does not commit, also when it is the master connection that died.

States and the moves between them (:data:`TRANSITIONS`)::

    provisioning -> active | failed
    active -> suspended | maintenance | marked_for_deletion
    suspended -> active | marked_for_deletion
    maintenance -> active
    marked_for_deletion -> active (restore)          ... then purge_tenant()
    failed -> marked_for_deletion                    ... or purge_tenant() at once

Each move sends :data:`~django_omnitenant.signals.tenant_state_changed`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, TypeVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from django_omnitenant.conf import OmnitenantConfigurationError, app_settings, backend_settings
from django_omnitenant.constants import TenantStatus
from django_omnitenant.placement import place
from django_omnitenant.utils import get_domain_model, get_tenant_backend, get_tenant_model
from omnitenant_backends import clear_tenant_cache
from omnitenant_backends.placement import placed_elsewhere, servers
from omnitenant_backends.pool import fill_pool
from omnitenant_backends.signals import tenant_migrated, tenant_state_changed
from omnitenant_context import (
    IsolationType,
    OmnitenantError,
    ProvisioningError,
    TenantBackend,
    TenantContext,
)
from omnitenant_context.observe import emit, observing

if TYPE_CHECKING:
    from django_omnitenant.models import BaseTenant

__all__ = [
    "FILL_POOL_TASK_NAME",
    "PROVISION_TASK_NAME",
    "TRANSITIONS",
    "TenantExists",
    "TransitionError",
    "activate",
    "create_tenant",
    "creating",
    "end_maintenance",
    "finish_provisioning",
    "make_storage",
    "mark_for_deletion",
    "provision",
    "purge_tenant",
    "restore",
    "save_new",
    "set_state",
    "start_maintenance",
    "suspend",
]

logger = logging.getLogger("omnitenant.provisioning")

_T = TypeVar("_T", bound="BaseTenant")

#: The name of the Celery task that finishes a background provisioning.
PROVISION_TASK_NAME: Final = "omnitenant.provision_tenant"
#: The name of the Celery task that fills the warm pool (for a beat schedule).
FILL_POOL_TASK_NAME: Final = "omnitenant.fill_warm_pool"

_S = TenantStatus
#: The lifecycle moves :func:`set_state` allows, by current state.
TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    _S.PROVISIONING: frozenset({_S.ACTIVE, _S.FAILED}),
    _S.ACTIVE: frozenset({_S.SUSPENDED, _S.MAINTENANCE, _S.MARKED_FOR_DELETION}),
    _S.SUSPENDED: frozenset({_S.ACTIVE, _S.MARKED_FOR_DELETION}),
    _S.MAINTENANCE: frozenset({_S.ACTIVE}),
    _S.MARKED_FOR_DELETION: frozenset({_S.ACTIVE}),
    _S.FAILED: frozenset({_S.MARKED_FOR_DELETION}),
}
#: States from which :func:`purge_tenant` may drop a tenant.
PURGEABLE: Final = frozenset({_S.MARKED_FOR_DELETION, _S.FAILED})


class TransitionError(OmnitenantError):
    """The tenant is not in a state from which the asked change is allowed."""


class TenantExists(ProvisioningError):
    """A tenant with this id exists already (also when another run created it meanwhile)."""


# -- creating -----------------------------------------------------------------------------


class _Creation:
    """Storage made inside one creating transaction, to remove if it does not commit."""

    def __init__(self) -> None:
        self.made: list[tuple[BaseTenant, TenantBackend]] = []


_creation: ContextVar[_Creation | None] = ContextVar("omnitenant_creation", default=None)


@contextmanager
def creating() -> Iterator[None]:
    """The master transaction that tenants are created in, with the clean-up if it fails.

    :func:`provision` enters it itself. Enter it around a larger unit of work that
    provisions a tenant (the admin's add view does, so the domains saved by its inline
    commit with the tenant): storage made inside is removed when the transaction does
    not commit, whatever the reason (an exception, a failed commit, a dead master
    connection). Nested uses join the outermost one.
    """
    master = backend_settings().master_database
    if _creation.get() is not None:
        with TenantContext.use_master_db(), transaction.atomic(using=master):
            yield
        return
    creation = _Creation()
    token = _creation.set(creation)
    try:
        with TenantContext.use_master_db(), transaction.atomic(using=master):
            yield
    except BaseException as exc:
        _remove_uncommitted_storage(creation, exc)
        raise
    finally:
        _creation.reset(token)


def _remove_uncommitted_storage(creation: _Creation, error: BaseException) -> None:
    for tenant, backend in reversed(creation.made):
        if tenant.isolation_type == IsolationType.SCHEMA and placed_elsewhere(tenant) is None:
            # The schema was made in the master transaction and went with its rollback.
            continue
        committed = _committed_as_active(tenant)
        if committed:
            # The commit reached the server although the client saw an error.
            logger.warning("tenant %s committed despite %r; storage kept", tenant.tenant_id, error)
            continue
        try:
            backend.delete(drop_data=True)
        except Exception as cleanup_exc:
            logger.exception("removing the storage of failed tenant %s", tenant.tenant_id)
            error.add_note(
                f"Removing the storage of tenant {tenant.tenant_id!r} failed too "
                f"({cleanup_exc}); remove it by hand."
            )
        else:
            logger.info("removed the storage of uncommitted tenant %s", tenant.tenant_id)


def _committed_as_active(tenant: BaseTenant) -> bool | None:
    """Whether the master holds ``tenant`` as active (None: the master cannot be asked)."""
    master = backend_settings().master_database
    try:
        connection = connections[master]
        if connection.in_atomic_block:
            return False  # the caller's transaction decides; nothing of ours committed
        with TenantContext.use_master_db():
            return (
                type(tenant)
                ._default_manager.using(master)
                .filter(tenant_id=tenant.tenant_id, status=TenantStatus.ACTIVE)
                .exists()
            )
    except DatabaseError:
        logger.exception("cannot tell whether tenant %s was committed", tenant.tenant_id)
        return None


def create_tenant(
    tenant_id: str,
    *,
    name: str = "",
    isolation_type: str = IsolationType.SCHEMA.value,
    domains: Sequence[str] = (),
    run_migrations: bool = True,
    background: bool = False,
    server: str = "",
    **fields: Any,
) -> BaseTenant:
    """Create the tenant ``tenant_id`` with its domains (the first is primary) and storage.

    A schema tenant goes to ``server`` (a ``DATABASES`` alias on omnitenant's engine), or
    where ``PLACEMENT_POLICY`` puts it when none is given (see
    :mod:`django_omnitenant.placement`). ``fields`` go to the tenant model
    (``schema_name``, ``database_config``, your own fields). With ``background=True`` the
    row (state ``provisioning``) and the domains are committed and a Celery task makes
    the storage (see :func:`finish_provisioning`); the call returns at once.

    Raises:
        ValidationError: A value is invalid, the server among them (nothing was written).
        TenantExists: The id is taken, also by a creation that committed meanwhile.
        ProvisioningError: Making the storage failed (its server down, too); nothing is
            left behind.
    """
    tenant = get_tenant_model()(
        tenant_id=tenant_id,
        name=name or tenant_id,
        isolation_type=isolation_type,
        server=server,
        **fields,
    )
    if background:
        return _create_in_background(tenant, domains, run_migrations=run_migrations)
    return provision(tenant, domains, run_migrations=run_migrations)


def provision(tenant: _T, domains: Sequence[str] = (), *, run_migrations: bool = True) -> _T:
    """Save the new ``tenant`` with ``domains`` and make its storage, all or nothing.

    A schema tenant whose ``server`` is empty is placed by the policy first.
    """
    with _measured(tenant):
        try:
            with creating():
                save_new(tenant, domains, TenantStatus.ACTIVE)
                make_storage(tenant, run_migrations=run_migrations)
        except (OmnitenantError, ValidationError):
            raise
        except DatabaseError as exc:
            raise ProvisioningError(
                f"Creating tenant {tenant.tenant_id!r} failed and was rolled back: {exc}"
            ) from exc
    return tenant


@contextmanager
def _measured(tenant: BaseTenant) -> Iterator[None]:
    """Report the provisioning's duration and outcome to the observers, if any listen."""
    if not observing():
        yield
        return
    started = time.perf_counter()
    outcome = "failed"
    try:
        yield
        outcome = "succeeded"
    finally:
        emit(
            "provisioning",
            time.perf_counter() - started,
            isolation_type=str(tenant.isolation_type),
            outcome=outcome,
        )


def save_new(
    tenant: BaseTenant, domains: Sequence[str] = (), status: str = TenantStatus.ACTIVE
) -> None:
    """Save a new tenant's row and ``domains``: the first half of :func:`provision`.

    Call it inside :func:`creating`, save what else belongs to the tenant (the admin saves
    its inline domains), then call :func:`make_storage`: ``tenant_created`` receivers then
    find everything the creation made. A schema tenant is placed on its server here
    (:func:`django_omnitenant.placement.place`).
    """
    tenant.status = status
    place(tenant)
    tenant.full_clean(exclude=["database_config"])
    try:
        # A savepoint: the caller's transaction stays usable to report the conflict.
        with transaction.atomic(using=backend_settings().master_database):
            tenant.save()
    except IntegrityError as exc:
        # Another creation of the same id committed between full_clean() and save():
        # this insert waited for it and lost.
        if type(tenant)._default_manager.filter(tenant_id=tenant.tenant_id).exists():
            raise TenantExists(f"A tenant {tenant.tenant_id!r} exists already.") from exc
        raise
    domain_model = get_domain_model()
    for index, host in enumerate(domains):
        domain = domain_model(tenant_id=tenant.pk, domain=host, is_primary=index == 0)
        domain.full_clean(exclude=["tenant"])
        domain.save()


def make_storage(tenant: BaseTenant, *, run_migrations: bool = True) -> None:
    """Make the storage of a tenant saved by :func:`save_new` (second half of `provision`)."""
    backend: TenantBackend = get_tenant_backend(tenant)
    backend.create(run_migrations=run_migrations)
    creation = _creation.get()
    if creation is not None:
        creation.made.append((tenant, backend))
    if run_migrations:
        tenant_migrated.send(sender=type(tenant), tenant=tenant, created=True)


# -- background provisioning ------------------------------------------------------------


def _create_in_background(
    tenant: BaseTenant, domains: Sequence[str], *, run_migrations: bool
) -> BaseTenant:
    app = provisioning_celery_app()
    master = backend_settings().master_database
    with TenantContext.use_master_db(), transaction.atomic(using=master):
        save_new(tenant, domains, TenantStatus.PROVISIONING)
    try:
        app.send_task(
            PROVISION_TASK_NAME,
            args=[tenant.tenant_id],
            kwargs={"run_migrations": run_migrations},
        )
    except Exception as exc:
        set_state(tenant, TenantStatus.FAILED, detail=f"queueing the task failed: {exc}")
        raise ProvisioningError(
            f"Tenant {tenant.tenant_id!r} was saved but its provisioning task could not be "
            f"queued ({exc}); it is now failed."
        ) from exc
    return tenant


def provisioning_celery_app() -> Any:
    """The Celery app that runs background provisioning.

    ``OMNITENANT_CONFIG['PROVISIONING_CELERY_APP']`` (a dotted path) or else the app
    handed to :func:`django_omnitenant.patches.celery.install`.
    """
    path = app_settings().provisioning_celery_app
    if path:
        try:
            return import_string(path)
        except ImportError as exc:
            raise OmnitenantConfigurationError(
                f"OMNITENANT_CONFIG['PROVISIONING_CELERY_APP'] = {path!r} cannot be imported: {exc}"
            ) from exc
    if _installed_apps:
        return _installed_apps[-1]
    raise OmnitenantConfigurationError(
        "Background provisioning needs a Celery app: call "
        "django_omnitenant.patches.celery.install(app), or set "
        "OMNITENANT_CONFIG['PROVISIONING_CELERY_APP'] to its dotted path."
    )


_installed_apps: list[Any] = []


def register_celery_app(app: Any) -> None:
    """Register :data:`PROVISION_TASK_NAME` and :data:`FILL_POOL_TASK_NAME` on ``app``.

    Done by :func:`django_omnitenant.patches.celery.install`.
    """
    if PROVISION_TASK_NAME not in app.tasks:
        app.task(name=PROVISION_TASK_NAME, ignore_result=False)(_provision_task)
    if FILL_POOL_TASK_NAME not in app.tasks:
        app.task(name=FILL_POOL_TASK_NAME, ignore_result=False)(_fill_pool_task)
    if app not in _installed_apps:
        _installed_apps.append(app)


def _provision_task(tenant_id: str, run_migrations: bool = True) -> str:
    finish_provisioning(tenant_id, run_migrations=run_migrations)
    return tenant_id


def _fill_pool_task() -> int:
    # Every server keeps a pool of its own.
    return sum(fill_pool(using=alias).made for alias in servers())


def finish_provisioning(tenant_id: str, *, run_migrations: bool = True) -> BaseTenant:
    """Make the storage of a tenant in ``provisioning`` and move it to ``active``.

    On failure the storage is removed and the tenant moves to ``failed`` with the error
    in ``status_detail``; :class:`~omnitenant_context.ProvisioningError` is raised.
    """
    with TenantContext.use_master_db():
        tenant = get_tenant_model()._default_manager.get(tenant_id=tenant_id)
    if tenant.status != TenantStatus.PROVISIONING:
        raise TransitionError(f"Tenant {tenant_id!r} is {tenant.status}, not provisioning.")
    with _measured(tenant):
        try:
            with creating():
                # Locks the row: a second worker with the same task waits, then finds it
                # done.
                locked = type(tenant)._default_manager.select_for_update().get(pk=tenant.pk)
                if locked.status != TenantStatus.PROVISIONING:
                    raise TransitionError(f"Tenant {tenant_id!r} is {locked.status} now.")
                make_storage(tenant, run_migrations=run_migrations)
                _move(tenant, TenantStatus.PROVISIONING, TenantStatus.ACTIVE, "")
        except TransitionError:
            raise
        except Exception as exc:
            detail = " ".join([f"{type(exc).__name__}: {exc}", *getattr(exc, "__notes__", ())])
            tenant.status = TenantStatus.PROVISIONING
            set_state(tenant, TenantStatus.FAILED, detail=detail)
            raise ProvisioningError(f"Provisioning tenant {tenant_id!r} failed: {detail}") from exc
    return tenant


# -- state changes ----------------------------------------------------------------------


def set_state(tenant: _T, state: str, *, detail: str = "") -> _T:
    """Move ``tenant`` to ``state`` if :data:`TRANSITIONS` allows it; send the signal.

    The change is a compare-and-set on the stored state: when another process changed
    the tenant meanwhile, :class:`TransitionError` is raised and nothing changes.
    """
    previous = str(tenant.status)
    allowed = TRANSITIONS.get(previous, frozenset())
    if state not in allowed:
        raise TransitionError(
            f"Tenant {tenant.tenant_id!r} is {previous}; it cannot become {state} "
            f"(from {previous}: {', '.join(sorted(allowed)) or 'nothing'})."
        )
    master = backend_settings().master_database
    with TenantContext.use_master_db(), transaction.atomic(using=master):
        _move(tenant, previous, state, detail)
    return tenant


def _move(tenant: BaseTenant, previous: str, state: str, detail: str) -> None:
    changed = (
        type(tenant)
        ._default_manager.filter(pk=tenant.pk, status=previous)
        .update(status=state, status_detail=detail, updated_at=timezone.now())
    )
    if not changed:
        raise TransitionError(
            f"Tenant {tenant.tenant_id!r} is no longer {previous} (changed meanwhile)."
        )
    tenant.status = state
    tenant.status_detail = detail
    logger.info("tenant %s: %s -> %s", tenant.tenant_id, previous, state)
    tenant_state_changed.send(sender=type(tenant), tenant=tenant, previous=previous, state=state)


def suspend(tenant: _T, *, reason: str = "") -> _T:
    """Stop serving ``tenant`` (403 or 404, see ``SUSPENDED_RESPONSE``); data kept."""
    return set_state(tenant, TenantStatus.SUSPENDED, detail=reason)


def activate(tenant: _T) -> _T:
    """Serve ``tenant`` again (from suspended, maintenance or marked for deletion)."""
    return set_state(tenant, TenantStatus.ACTIVE)


def start_maintenance(tenant: _T, *, reason: str = "") -> _T:
    """Make ``tenant`` read-only: 503 for requests, writes refused by the database."""
    return set_state(tenant, TenantStatus.MAINTENANCE, detail=reason)


def end_maintenance(tenant: _T) -> _T:
    """Leave maintenance: ``tenant`` is active and writable again."""
    if tenant.status != TenantStatus.MAINTENANCE:
        raise TransitionError(f"Tenant {tenant.tenant_id!r} is {tenant.status}, not maintenance.")
    return set_state(tenant, TenantStatus.ACTIVE)


def mark_for_deletion(tenant: _T) -> _T:
    """First step of deleting: no longer served, data kept until :func:`purge_tenant`."""
    if tenant.status == TenantStatus.MARKED_FOR_DELETION:
        raise TransitionError(
            f"Tenant {tenant.tenant_id!r} is marked for deletion already; purge it or restore it."
        )
    return set_state(tenant, TenantStatus.MARKED_FOR_DELETION)


def restore(tenant: _T) -> _T:
    """Undo :func:`mark_for_deletion`: the tenant is active again."""
    if tenant.status != TenantStatus.MARKED_FOR_DELETION:
        raise TransitionError(f"Tenant {tenant.tenant_id!r} is not marked for deletion.")
    return set_state(tenant, TenantStatus.ACTIVE)


# -- deleting ---------------------------------------------------------------------------


def purge_tenant(tenant: BaseTenant, *, require_mark: bool = True) -> None:
    """Drop ``tenant``'s storage, then its row, domains and cache entries.

    Only a tenant marked for deletion (or failed) is purged unless ``require_mark`` is
    false (the test helpers drop their own tenants that way). If dropping the storage
    fails, the row is kept, so the tenant can be found and purged again.
    """
    if require_mark and tenant.status not in PURGEABLE:
        raise TransitionError(
            f"Tenant {tenant.tenant_id!r} is {tenant.status}: mark it for deletion first "
            f"(deletetenant --tenant {tenant.tenant_id})."
        )
    if tenant.status != TenantStatus.FAILED:
        # A failed provisioning removed its storage already (or says in status_detail
        # what it could not remove); its server may not even be reachable.
        backend: TenantBackend = get_tenant_backend(tenant)
        backend.delete(drop_data=True)
    master = backend_settings().master_database
    with TenantContext.use_master_db(), transaction.atomic(using=master):
        # The domains go with the row (ForeignKey cascade).
        type(tenant)._default_manager.filter(pk=tenant.pk).delete()
    # A tenant created later under the same id must not find this one's cache.
    clear_tenant_cache(tenant)
    logger.info("purged tenant %s", tenant.tenant_id)
