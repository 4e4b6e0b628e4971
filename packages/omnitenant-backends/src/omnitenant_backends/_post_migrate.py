"""``post_migrate`` for a fleet: Django's content-type and permission handlers run only
where a tenant lacks a row they would create.

After every ``migrate``, ``django.contrib.contenttypes`` and ``django.contrib.auth`` make
sure each model has its ``ContentType`` and its permissions: per app, about four queries
whose answer, in a fleet that is up to date, is "nothing missing". Per tenant that is
most of the statements a small migration costs.

:class:`FleetPostMigrate` sends ``post_migrate`` per app as ``migrate`` does, with one
difference: for an app whose rows are all there, Django's two handlers are left out
(every other receiver, a third-party app's included, still gets the signal, in its
order). Whether the rows are there is one query per tenant, compared with the rows the
handlers left in the tenants where they did run:

* Both handlers only *add* rows (content types by ``(app_label, model)``, permissions by
  ``(content type, codename)``), and which rows they add depends only on the ``apps`` they
  are given (shared by the tenants of one prepared plan) and the router's answers for the
  alias (asked per tenant). So the rows after a handler run in one tenant include
  everything the handlers would add in another tenant with the same ``apps`` and router
  answers; a tenant that has all of those would get nothing from them, and skipping them
  changes nothing.
* The expected rows are learnt, not re-derived from the models: the first tenant (per
  plan and router answers) runs the handlers for every app; the rows per app
  after that are what later tenants are compared with. Each later handler run narrows
  them to the rows both tenants have (a stale content type of one tenant does not make
  the others fall back forever). The comparison is per app: a release adding a model
  runs the handlers of that one app, not of all.
* Any case this reasoning does not cover sends the signal as Django does: a router
  that allows one of the two tables but not the other, an asynchronous receiver, a
  Django whose signal internals differ from what is read here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps as global_apps
from django.apps.config import AppConfig
from django.core.management.sql import emit_post_migrate_signal
from django.db import router
from django.db.models.signals import post_migrate

__all__ = ["FleetPostMigrate"]

Receiver = Callable[..., Any]
#: Per app label, the rows of its models: ``(model,)`` for a content type and
#: ``(model, codename)`` for a permission.
Rows = dict[str, frozenset[tuple[str, ...]]]
_NONE: frozenset[tuple[str, ...]] = frozenset()


def _django_handlers() -> tuple[Receiver, ...]:
    """Django's own receivers this module may leave out (those of installed apps)."""
    handlers: list[Receiver] = []
    if global_apps.is_installed("django.contrib.contenttypes"):
        from django.contrib.contenttypes.management import create_contenttypes  # noqa: PLC0415

        handlers.append(create_contenttypes)
    if global_apps.is_installed("django.contrib.auth"):
        from django.contrib.auth.management import create_permissions  # noqa: PLC0415

        handlers.append(create_permissions)
    return tuple(handlers)


def _other_receivers(sender: AppConfig, left_out: tuple[Receiver, ...]) -> list[Receiver] | None:
    """The synchronous receivers ``post_migrate.send(sender)`` calls, in order, minus
    ``left_out``; ``None`` when that cannot be known exactly (then the caller sends).

    ``Signal`` has no public way to list its receivers: ``_live_receivers`` is what
    ``send`` itself uses (Django 5.0 and later: ``(sync, async)`` lists). Anything else,
    or an asynchronous receiver (``send`` runs those together after the others), and
    the caller sends the signal as Django does.
    """
    live = getattr(post_migrate, "_live_receivers", None)
    if live is None:
        return None
    found = live(sender)
    if not (isinstance(found, tuple) and len(found) == 2):
        return None
    sync, asynchronous = found
    if asynchronous or not isinstance(sync, list) or not all(callable(r) for r in sync):
        return None
    return [receiver for receiver in sync if receiver not in left_out]


class FleetPostMigrate:
    """Sends ``post_migrate`` for the tenants of one prepared plan.

    Args:
        apps: The state ``post_migrate`` receives (shared by the plan's tenants).
        plan: The plan the signal reports.
        verbosity: As ``migrate``'s; 2 and more names each app, as ``migrate`` does.
        stdout: Where the receivers write.
    """

    def __init__(self, apps: Any, plan: list[Any], verbosity: int, stdout: Any) -> None:
        self.apps = apps
        self.plan = plan
        self.verbosity = verbosity
        self.stdout = stdout
        self._handlers = _django_handlers()
        #: Per router answers: the rows the handlers left, narrowed tenant by tenant. Not
        #: per alias: the handlers depend on the alias only through the router, so the
        #: database tenants of one plan, each with an alias of its own, share them.
        self._expected: dict[tuple[bool, bool], Rows] = {}
        #: How many tenants' apps ran Django's handlers / were checked and left out.
        self.handler_runs = 0
        self.handlers_left_out = 0

    def send(self, alias: str) -> None:
        """``post_migrate`` for the tenant behind ``alias`` (inside its scope)."""
        configs = [c for c in global_apps.get_app_configs() if c.models_module is not None]
        checked = self._checked_tables(alias)
        receivers = {config.label: _other_receivers(config, self._handlers) for config in configs}
        if checked is None or any(found is None for found in receivers.values()):
            self._send_all(alias)
            return
        with_permissions = checked[1]
        labels = [config.label for config in configs]
        expected = self._expected.get(checked)
        if expected is None:
            stale = set(labels)  # the first tenant: the handlers run, the rows are learnt
        else:
            rows = self._rows(alias, labels, with_permissions=with_permissions)
            stale = {label for label in labels if not expected[label] <= rows.get(label, _NONE)}
        for config in configs:
            if self.verbosity >= 2:
                self.stdout.write(f"Running post-migrate handlers for application {config.label}")
            arguments = self._arguments(config, alias)
            if config.label in stale:
                post_migrate.send(sender=config, **arguments)
                continue
            for receiver in receivers[config.label] or ():
                receiver(signal=post_migrate, sender=config, **arguments)
        self.handlers_left_out += len(labels) - len(stale)
        self.handler_runs += len(stale)
        if not stale:
            return
        after = self._rows(alias, sorted(stale), with_permissions=with_permissions)
        learnt = dict(expected or {})
        for label in stale:
            now = after.get(label, _NONE)
            learnt[label] = now if expected is None else expected[label] & now
        self._expected[checked] = learnt

    def _send_all(self, alias: str) -> None:
        emit_post_migrate_signal(
            self.verbosity, False, alias, stdout=self.stdout, apps=self.apps, plan=self.plan
        )
        self.handler_runs += 1

    def _arguments(self, config: AppConfig, alias: str) -> dict[str, Any]:
        # The keywords emit_post_migrate_signal sends.
        return {
            "app_config": config,
            "verbosity": self.verbosity,
            "interactive": False,
            "using": alias,
            "stdout": self.stdout,
            "apps": self.apps,
            "plan": self.plan,
        }

    def _checked_tables(self, alias: str) -> tuple[bool, bool] | None:
        """``(content types, permissions)``: which rows to check for this tenant;
        ``None`` when the shortcut does not apply (the signal is then sent in full).

        The router is asked per tenant, inside its scope, as the handlers ask it.
        """
        if not self._handlers:
            return None
        try:
            content_type = self.apps.get_model("contenttypes", "ContentType")
        except LookupError:
            return None  # the handlers return at once: nothing to save
        try:
            permission = self.apps.get_model("auth", "Permission")
        except LookupError:
            permission = None
        types = bool(router.allow_migrate_model(alias, content_type))
        permissions = permission is not None and bool(router.allow_migrate_model(alias, permission))
        if permissions and not types:
            return None  # create_permissions would still read content types: not covered
        if not types:
            return None  # both handlers return before their first query
        return types, permissions

    def _rows(self, alias: str, labels: Iterable[str], *, with_permissions: bool) -> Rows:
        """One query: the content types (and their permissions) of ``labels`` in the tenant."""
        content_type = self.apps.get_model("contenttypes", "ContentType")
        query = content_type.objects.using(alias).filter(app_label__in=list(labels))
        found: dict[str, set[tuple[str, ...]]] = {}
        if with_permissions:
            for label, model, codename in query.values_list(
                "app_label", "model", "permission__codename"
            ):
                rows = found.setdefault(label, set())
                rows.add((model,))
                if codename is not None:
                    rows.add((model, codename))
        else:
            for label, model in query.values_list("app_label", "model"):
                found.setdefault(label, set()).add((model,))
        return {label: frozenset(rows) for label, rows in found.items()}
