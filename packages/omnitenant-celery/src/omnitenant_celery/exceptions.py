"""Why a tenant-aware task was refused.

A worker refuses a task (the task body never runs) when the tenant that travelled with
it cannot be restored. The task then ends in the ``FAILURE`` state with one of these
exceptions as its result, its error callbacks run, and it is **not** retried: a
refusal is final, so a deleted tenant's backlog does not turn into a retry storm.

Every class derives from :class:`TaskTenantError`, which derives from
:class:`omnitenant_context.OmnitenantError`; each also derives from the omnitenant
exception that describes the same failure outside Celery (``TenantNotFound``,
``InvalidIdentifier``, ``ConfigurationError``), so existing ``except`` clauses keep
working. The classes live in this public module and take a single message argument,
so a result backend can rebuild them on the caller's side (``AsyncResult.get()``
raises the same class).
"""

from __future__ import annotations

from omnitenant_context import (
    ConfigurationError,
    InvalidIdentifier,
    OmnitenantError,
    TenantNotFound,
)

__all__ = [
    "InvalidTenantHeader",
    "TaskTenantError",
    "TaskTenantLookupFailed",
    "TaskTenantNotFound",
    "TenantStoreNotInstalled",
]


class TaskTenantError(OmnitenantError):
    """The tenant a task was sent in cannot be restored; the task was not run."""


class TaskTenantNotFound(TaskTenantError, TenantNotFound):
    """The task's tenant is not usable any more: deleted, suspended or unknown.

    The tenant store answers only with usable tenants, so the worker cannot tell a
    deleted tenant from a suspended one; the message names the tenant id.
    """


class InvalidTenantHeader(TaskTenantError, InvalidIdentifier):
    """The tenant header of the message is not a valid tenant id.

    Checked before any lookup, so a malformed header never reaches the tenant store.
    """


class TaskTenantLookupFailed(TaskTenantError):
    """The tenant store raised while the worker looked the task's tenant up.

    The store's own error (a database that is down, for example) is chained as
    ``__cause__`` in the worker and quoted in the message.
    """


class TenantStoreNotInstalled(TaskTenantError, ConfigurationError):
    """A tenant-aware task ran in a process where its Celery app was not installed.

    Call :func:`omnitenant_celery.install` (or, in a Django project,
    ``django_omnitenant.patches.celery.install``) in the module that creates the app.
    """
