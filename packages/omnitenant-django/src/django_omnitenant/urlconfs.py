"""URLconfs by kind of host, and URLconfs built once per tenant.

Three ``OMNITENANT_CONFIG`` keys, read by :class:`~django_omnitenant.middleware.TenantMiddleware`
(which sets Django's ``request.urlconf``; ``reverse()`` and ``{% url %}`` follow it):

* ``PUBLIC_URLCONF``: the URLconf of the public host (``None``: ``ROOT_URLCONF``);
* ``TENANT_URLCONF``: the URLconf of tenants (``None``: ``ROOT_URLCONF``); a tenant whose
  ``get_urlconf()`` returns a dotted path uses that one instead;
* ``URLCONF_PER_TENANT``: the tenants' URLconf module is executed once per tenant, inside
  the tenant, so a URLconf that builds patterns from the tenant's rows gets that tenant's
  rows. The result is cached per tenant (thread-safe: one build per tenant and
  generation) until :func:`invalidate_urlconfs` is called, in this process at once and in
  the others within ``TENANT_CACHE_VERSION_CHECK_INTERVAL`` seconds.

Django imports ``ROOT_URLCONF`` outside any tenant (its system checks, every management
command): it must read no tenant rows. A per-tenant URLconf is only ever executed inside
its tenant. The check ``omnitenant.E010`` refuses a per-tenant URLconf that is
``ROOT_URLCONF`` itself.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from types import ModuleType
from typing import Final

from django.conf import settings
from django.db import transaction
from django.urls import clear_url_caches

from django_omnitenant.conf import AppSettings, OmnitenantConfigurationError, app_settings
from django_omnitenant.stores import CacheVersionSource
from omnitenant_context import Tenant, TenantContext

__all__ = ["invalidate_urlconfs", "tenant_urlconf", "urlconf_for"]

URLCONF_VERSION_KEY: Final = "omnitenant:urlconf-version"


class _PerTenantURLConfs:
    """Per-tenant module objects built from one URLconf module; one per process."""

    def __init__(self) -> None:
        self._built: dict[tuple[str, str], ModuleType] = {}
        self._lock = threading.Lock()
        self._seen_version: object = None
        self._next_check = 0.0
        # The settings the modules were built under: replaced settings drop them all.
        self._built_from: AppSettings | None = None

    def get(self, conf: AppSettings, module_name: str, tenant: Tenant) -> ModuleType:
        if conf is not self._built_from:
            self.forget()
            self._built_from = conf
        self._follow_shared_version(conf)
        key = (module_name, tenant.tenant_id)
        module = self._built.get(key)
        if module is None:
            with self._lock:
                module = self._built.get(key)
                if module is None:
                    module = self._built[key] = _execute_in(module_name, tenant)
        return module

    def forget(self, tenant_id: str | None = None, seen_version: object = None) -> None:
        with self._lock:
            if seen_version is not None:
                # Our own bump: no need to drop everything again when we read it.
                self._seen_version = seen_version
            if tenant_id is None:
                self._built.clear()
            else:
                for key in [key for key in self._built if key[1] == tenant_id]:
                    del self._built[key]
        # Django's resolver cache holds the old module objects (keyed by identity).
        clear_url_caches()

    def _follow_shared_version(self, conf: AppSettings) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + conf.tenant_cache_version_check_interval
        version = _versions(conf.tenant_cache_alias).get_version()
        if version != self._seen_version:
            if self._seen_version is not None:
                self.forget()
            self._seen_version = version


def _versions(alias: str) -> CacheVersionSource:
    return CacheVersionSource(alias, key=URLCONF_VERSION_KEY)


def _execute_in(module_name: str, tenant: Tenant) -> ModuleType:
    """A fresh copy of the URLconf module, its code run inside ``tenant``."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.loader is None:
        raise OmnitenantConfigurationError(
            f"The tenants' URLconf {module_name!r} cannot be imported (TENANT_URLCONF)."
        )
    module = importlib.util.module_from_spec(spec)
    with TenantContext.use_tenant(tenant):
        spec.loader.exec_module(module)
    return module


_per_tenant = _PerTenantURLConfs()


def urlconf_for(tenant: Tenant | None) -> str | ModuleType | None:
    """The URLconf a request of ``tenant`` (``None``: the public host) is served with.

    ``None`` means ``ROOT_URLCONF``. Pass the result as ``reverse(..., urlconf=...)`` to
    reverse a tenant's URL outside its requests (a task, an email).
    """
    conf = app_settings()
    if tenant is None:
        return conf.public_urlconf
    hook = getattr(tenant, "get_urlconf", None)
    name = (hook() if hook is not None else None) or conf.tenant_urlconf
    if not conf.urlconf_per_tenant:
        return name
    return _per_tenant.get(conf, name or settings.ROOT_URLCONF, tenant)


def tenant_urlconf(tenant: Tenant | None) -> str | ModuleType:
    """Like :func:`urlconf_for`, with ``ROOT_URLCONF`` filled in."""
    urlconf = urlconf_for(tenant)
    return settings.ROOT_URLCONF if urlconf is None else urlconf


def invalidate_urlconfs(tenant: Tenant | None = None, *, using: str | None = None) -> None:
    """Rebuild per-tenant URLconfs: call it when the rows they are built from change.

    Once the transaction on ``using`` commits (at once outside a transaction), this
    process drops the tenant's URLconf (every tenant's with ``None``), and other
    processes drop all of theirs within ``TENANT_CACHE_VERSION_CHECK_INTERVAL``.
    """
    tenant_id = None if tenant is None else tenant.tenant_id

    def drop() -> None:
        versions = _versions(app_settings().tenant_cache_alias)
        versions.bump()
        _per_tenant.forget(tenant_id, seen_version=versions.get_version())

    transaction.on_commit(drop, using=using)
