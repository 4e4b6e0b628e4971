"""Sign-up: a visitor's form becomes a tenant, made through the provisioning API.

The request saves the tenant in state ``provisioning`` with its domain
(``provisioning.save_new`` inside ``provisioning.creating``) and answers at once; a
thread then runs ``provisioning.finish_provisioning``, which makes the storage, migrates
it and moves the tenant to ``active`` (or to ``failed``, with nothing left behind). The
progress page polls the tenant's state. A real deployment does the same with
``provisioning.create_tenant(..., background=True)`` and a Celery worker; the example
has no broker, so a thread stands in for the worker.

The owner's account is made by a ``tenant_migrated`` receiver, that is inside the
provisioning: a tenant becomes ``active`` with its owner, or not at all.
"""

from __future__ import annotations

import logging
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from customers.models import Tenant
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, transaction

from django_omnitenant import provisioning
from django_omnitenant.constants import TenantStatus
from omnitenant_backends.signals import tenant_migrated
from omnitenant_context import OmnitenantError, TenantContext

logger = logging.getLogger("demo.signup")


@dataclass(frozen=True)
class Owner:
    """The first user of a new tenant; the password is already hashed."""

    username: str
    email: str
    password_hash: str


# The owner of the tenant this thread is provisioning (None: not a sign-up).
_owner: ContextVar[Owner | None] = ContextVar("demo_signup_owner", default=None)


def host_of(tenant_id: str) -> str:
    """The host of a tenant signed up here: ``<tenant id>.localhost``."""
    return f"{tenant_id}.{settings.DEMO_TENANT_HOST_SUFFIX}"


def start(tenant_id: str, name: str, owner: Owner) -> Tenant:
    """Save the tenant (state ``provisioning``) and finish it in a background thread.

    Raises what ``provisioning.save_new`` raises (``ValidationError``, ``TenantExists``);
    nothing is saved then.
    """
    tenant = Tenant(tenant_id=tenant_id, name=name, isolation_type=settings.DEMO_ISOLATION)
    with provisioning.creating():
        provisioning.save_new(tenant, [host_of(tenant_id)], TenantStatus.PROVISIONING)
    # Not a daemon: stopping the server waits for a provisioning under way to end.
    threading.Thread(target=_finish, args=(tenant_id, owner), name=f"provision-{tenant_id}").start()
    return tenant


def _finish(tenant_id: str, owner: Owner) -> None:
    token = _owner.set(owner)
    try:
        provisioning.finish_provisioning(tenant_id)
    except OmnitenantError:
        # The tenant is ``failed`` with the reason in status_detail, which the progress
        # page shows; the log keeps the traceback for the developer.
        logger.exception("provisioning the signed-up tenant %s failed", tenant_id)
    finally:
        _owner.reset(token)
        connections.close_all()  # this thread's connections end with it


def _create_owner(sender: Any, tenant: Tenant, created: bool = False, **_: Any) -> None:
    owner = _owner.get()
    if owner is None or not created:
        return
    # The tenant first, then the block: the atomic block covers the tenant's database.
    with TenantContext.use_tenant(tenant), transaction.atomic():
        user = get_user_model()(
            username=owner.username,
            email=owner.email,
            password=owner.password_hash,
            is_staff=True,
            is_superuser=True,
        )
        user.save()


def connect() -> None:
    """Switch the owner's account creation on (from ``DemoConfig.ready``)."""
    tenant_migrated.connect(_create_owner, dispatch_uid="demo.signup.create_owner")
