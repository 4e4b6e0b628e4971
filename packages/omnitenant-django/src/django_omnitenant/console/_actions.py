"""The console's actions: each one call of :mod:`django_omnitenant.provisioning`.

An action is offered for the states from which provisioning allows it
(:data:`~django_omnitenant.provisioning.TRANSITIONS`); provisioning still decides, so a
tenant changed meanwhile is refused with its own message. Every action runs under
:func:`~django_omnitenant.provisioning.acting_as` (the tenant's history names the staff
user) and is written to the ``omnitenant.console`` logger.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.core.management import call_command
from django.core.management.base import CommandError

from django_omnitenant import provisioning
from django_omnitenant.constants import TenantStatus
from django_omnitenant.models import TenantStateChange
from omnitenant_context import OmnitenantError, TenantContext

__all__ = ["ACTIONS", "Action", "ActionRefused", "available_actions", "run_action"]

logger = logging.getLogger("omnitenant.console")

_S = TenantStatus


class ActionRefused(OmnitenantError):
    """The action cannot be done now (its message says why); nothing changed."""


@dataclass(frozen=True)
class Action:
    """One thing an operator can do to a tenant from the console."""

    name: str
    label: str
    explanation: str
    #: The states the action is offered in.
    states: frozenset[str]
    #: Runs it: (tenant, reason) -> the message shown after it.
    perform: Callable[[Any, str], str]
    takes_reason: bool = False
    dangerous: bool = False


def _into(state: str) -> frozenset[str]:
    return frozenset(
        source for source, targets in provisioning.TRANSITIONS.items() if state in targets
    )


def _suspend(tenant: Any, reason: str) -> str:
    provisioning.suspend(tenant, reason=reason)
    return f"Tenant {tenant.tenant_id} is suspended."


def _resume(tenant: Any, reason: str) -> str:
    if tenant.status != _S.SUSPENDED:
        raise ActionRefused(f"Tenant {tenant.tenant_id!r} is {tenant.status}, not suspended.")
    provisioning.activate(tenant)
    return f"Tenant {tenant.tenant_id} is active again."


def _start_maintenance(tenant: Any, reason: str) -> str:
    provisioning.start_maintenance(tenant, reason=reason)
    return f"Tenant {tenant.tenant_id} is in maintenance (read-only)."


def _end_maintenance(tenant: Any, reason: str) -> str:
    provisioning.end_maintenance(tenant)
    return f"Tenant {tenant.tenant_id} left maintenance."


def _mark(tenant: Any, reason: str) -> str:
    provisioning.mark_for_deletion(tenant)
    return (
        f"Tenant {tenant.tenant_id} is marked for deletion: no longer served, data kept "
        "until it is purged (deletetenant)."
    )


def _restore(tenant: Any, reason: str) -> str:
    provisioning.restore(tenant)
    return f"Tenant {tenant.tenant_id} is restored."


def _migrate(tenant: Any, reason: str) -> str:
    """``migratealltenants --tenant ID``: the fleet executor, the tenant's lock, metrics."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(
            "migratealltenants", tenant=[tenant.tenant_id], format="json", stdout=out, stderr=err
        )
        failure = ""
    except CommandError as exc:
        failure = str(exc)
    result = _migrate_result(out.getvalue(), tenant.tenant_id)
    _note(tenant, f"migrate: {result or 'failed'}" + (f" ({failure})" if failure else ""))
    if failure:
        raise ActionRefused(
            f"Migrating tenant {tenant.tenant_id!r} failed: {err.getvalue().strip() or failure}"
        )
    return f"Tenant {tenant.tenant_id}: {result or 'up to date'}."


def _migrate_result(output: str, tenant_id: str) -> str:
    for line in output.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("tenant") == tenant_id:
            return str(item.get("result", ""))
    return ""


def _note(tenant: Any, detail: str) -> None:
    """A row of the tenant's history for an action that leaves its state as it is."""
    with TenantContext.use_master_db():
        TenantStateChange.objects.create(
            tenant_id=tenant.tenant_id,
            previous=str(tenant.status),
            state=str(tenant.status),
            detail=detail,
            actor=provisioning.current_actor(),
        )


_MIGRATED: Final = frozenset({_S.ACTIVE, _S.SUSPENDED, _S.MAINTENANCE, _S.MARKED_FOR_DELETION})

#: Every action, by name (the order is the order of the buttons).
ACTIONS: Final[Mapping[str, Action]] = {
    action.name: action
    for action in (
        Action(
            "suspend",
            "Suspend",
            "The tenant's hosts answer 403 (or 404, SUSPENDED_RESPONSE); its data is kept.",
            _into(_S.SUSPENDED),
            _suspend,
            takes_reason=True,
        ),
        Action(
            "resume",
            "Resume",
            "The suspended tenant is served again.",
            frozenset({_S.SUSPENDED}),
            _resume,
        ),
        Action(
            "start_maintenance",
            "Start maintenance",
            "The tenant becomes read-only: requests answer 503 and the database refuses writes.",
            _into(_S.MAINTENANCE),
            _start_maintenance,
            takes_reason=True,
        ),
        Action(
            "end_maintenance",
            "End maintenance",
            "The tenant is active and writable again.",
            frozenset({_S.MAINTENANCE}),
            _end_maintenance,
        ),
        Action(
            "mark_for_deletion",
            "Mark for deletion",
            "The tenant is no longer served; its data stays until it is purged with "
            "deletetenant, and it can be restored until then.",
            _into(_S.MARKED_FOR_DELETION),
            _mark,
            dangerous=True,
        ),
        Action(
            "restore",
            "Restore",
            "Undo the mark for deletion: the tenant is active again.",
            frozenset({_S.MARKED_FOR_DELETION}),
            _restore,
        ),
        Action(
            "migrate",
            "Migrate",
            "Apply the tenant's pending migrations now (as migratealltenants --tenant).",
            _MIGRATED,
            _migrate,
        ),
    )
}


def available_actions(status: str) -> list[Action]:
    """The actions offered to a tenant in ``status``."""
    return [action for action in ACTIONS.values() if status in action.states]


def run_action(action: Action, tenant: Any, *, actor: str, reason: str = "") -> str:
    """Do ``action`` to ``tenant`` for ``actor``; return what to tell the operator.

    Raises:
        ActionRefused: Provisioning refused it (the state does not allow it, or changed
            meanwhile), or the migration failed.
    """
    logger.info("%s asks to %s tenant %s", actor, action.name, tenant.tenant_id)
    try:
        with provisioning.acting_as(actor):
            message = action.perform(tenant, reason[:1000])
    except ActionRefused as exc:
        logger.warning("%s: %s tenant %s refused: %s", actor, action.name, tenant.tenant_id, exc)
        raise
    except provisioning.TransitionError as exc:
        logger.warning("%s: %s tenant %s refused: %s", actor, action.name, tenant.tenant_id, exc)
        raise ActionRefused(str(exc)) from exc
    logger.info("%s: %s tenant %s: %s", actor, action.name, tenant.tenant_id, message)
    return message
