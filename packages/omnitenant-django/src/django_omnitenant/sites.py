"""The sites framework per tenant (``OMNITENANT_CONFIG["TENANT_SITES"]``).

``django.contrib.sites`` keeps the current ``Site`` in a process-wide dictionary
(``django.contrib.sites.models.SITE_CACHE``) keyed by ``SITE_ID``: the first tenant a
process served would be every tenant's Site. With ``TENANT_SITES`` on (and ``sites`` in
``TENANT_APPS``, ``SITE_ID`` set):

* that dictionary is a :class:`TenantSiteCache`: one dictionary per tenant id (the
  master keeps the plain one). A tenant's entries go when its Site is saved or deleted
  (Django's own receiver, run in the tenant), and every tenant's go whenever the cached
  tenant lookups are dropped: in every process, within
  ``TENANT_CACHE_VERSION_CHECK_INTERVAL`` of a tenant or domain change;
* ``get_current_site(request)`` / ``Site.objects.get_current()`` inside a tenant answer
  the tenant's own Site with ``pk=SITE_ID``, whose ``domain`` is the tenant's primary
  domain and ``name`` the tenant's name: :func:`sync_tenant_site` writes it after the
  tenant is created and whenever its tenant row or one of its domains is saved or
  deleted (once the transaction commits).

Switching the key on installs the cache, off gives Django's plain dictionary back; both
follow ``override_settings``. Nothing else of Django is touched.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.db import connections, transaction
from django.db.models.signals import post_delete, post_save

from django_omnitenant.conf import OmnitenantConfigurationError, app_settings, backend_settings
from django_omnitenant.signals import tenant_created
from django_omnitenant.stores import on_tenant_lookups_dropped
from django_omnitenant.utils import get_domain_model, get_tenant_backend, get_tenant_model
from omnitenant_context import ContextState, Tenant, TenantContext

__all__ = ["TenantSiteCache", "apply_sites_setting", "sync_tenant_site"]


class TenantSiteCache(dict[Any, Any]):
    """Django's ``SITE_CACHE``, answered from the active tenant's own dictionary."""

    def __init__(self) -> None:
        super().__init__()
        self._by_tenant_id: dict[str, dict[Any, Any]] = {}

    def _own(self) -> dict[Any, Any] | None:
        tenant = TenantContext.get_tenant()
        if tenant is None:
            return None
        own = self._by_tenant_id.get(tenant.tenant_id)
        if own is None:
            own = self._by_tenant_id.setdefault(tenant.tenant_id, {})
        return own

    def drop_tenants(self) -> None:
        """Forget every tenant's cached Sites (the master's stay, as in Django)."""
        self._by_tenant_id = {}

    def __contains__(self, key: object) -> bool:
        own = self._own()
        return super().__contains__(key) if own is None else key in own

    def __getitem__(self, key: Any) -> Any:
        own = self._own()
        return super().__getitem__(key) if own is None else own[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        own = self._own()
        if own is None:
            super().__setitem__(key, value)
        else:
            own[key] = value

    def __delitem__(self, key: Any) -> None:
        own = self._own()
        if own is None:
            super().__delitem__(key)
        else:
            del own[key]


class _KeepTenantSiteCache:
    """Puts the per-tenant cache back when ``Site.objects.clear_cache()`` replaced it.

    Django's ``clear_cache()`` (and pytest-django before each test) rebinds
    ``SITE_CACHE`` to a new plain dict. Checked whenever code enters a tenant: one type
    check per switch.
    """

    def __init__(self, module: Any) -> None:
        self.module = module

    def context_changed(self, previous: ContextState, current: ContextState) -> None:
        if current.tenant is not None and type(self.module.SITE_CACHE) is dict:
            self.module.SITE_CACHE = TenantSiteCache()


_keeper: _KeepTenantSiteCache | None = None


def _sites_model() -> Any:
    return apps.get_model("sites", "Site")


def sync_tenant_site(tenant: Tenant) -> None:
    """Write the tenant's Site (``pk=SITE_ID``): its primary domain and its name.

    Does nothing while the tenant has no primary domain or its storage has no
    ``django_site`` table yet (creation syncs again once it has).
    """
    with TenantContext.use_master_db():
        primary = (
            get_domain_model()
            .objects.filter(tenant__tenant_id=tenant.tenant_id, is_primary=True)
            .values_list("domain", flat=True)
            .first()
        )
    if primary is None:
        return
    site_model = _sites_model()
    # The migration scope sees the tenant's own tables only (with schema tenants the
    # shared schema is off the path): a tenant whose storage is not made yet has none,
    # and the master's django_site is never touched from here.
    with get_tenant_backend(tenant).migration_scope() as alias:
        if site_model._meta.db_table not in connections[alias].introspection.table_names():
            return
        name = str(getattr(tenant, "name", "") or tenant.tenant_id)[:50]
        site = site_model.objects.using(alias).filter(pk=settings.SITE_ID).first()
        if site is None:
            site_model(pk=settings.SITE_ID, domain=primary, name=name).save(using=alias)
        elif (site.domain, site.name) != (primary, name):
            site.domain, site.name = primary, name
            site.save(using=alias)  # Django's receiver drops it from this tenant's cache


def _tenant_created(*, tenant: Tenant, **_: Any) -> None:
    # Tenants that are not rows of the tenant model (a cache-only backend's) have no Site.
    if app_settings().tenant_sites and isinstance(tenant, get_tenant_model()):
        sync_tenant_site(tenant)


def _tenant_or_domain_changed(*, instance: Any, **_: Any) -> None:
    if not app_settings().tenant_sites:
        return
    tenant_model = get_tenant_model()
    # A domain's ``tenant_id`` attribute is its foreign key: the tenant's pk.
    tenant_pk = instance.pk if isinstance(instance, tenant_model) else instance.tenant_id

    def sync() -> None:
        with TenantContext.use_master_db():
            tenant = tenant_model.objects.filter(pk=tenant_pk).first()
        if tenant is not None:
            sync_tenant_site(tenant)

    transaction.on_commit(sync, using=backend_settings().master_database)


def apply_sites_setting() -> None:
    """Install or remove the per-tenant Site cache as ``TENANT_SITES`` says (idempotent)."""
    setting_changed.connect(_on_setting_changed, dispatch_uid="omnitenant-sites")
    if not apps.is_installed("django.contrib.sites"):
        return
    try:
        enabled = app_settings().tenant_sites
        senders = [get_tenant_model(), get_domain_model()]
    except OmnitenantConfigurationError:
        return  # reported by the system checks (E001 / E002 / E003)
    from django.contrib.sites import models as sites_models  # noqa: PLC0415 - optional app

    global _keeper  # noqa: PLW0603 - one listener per process
    if _keeper is None:
        _keeper = _KeepTenantSiteCache(sites_models)
    if enabled:
        if not isinstance(sites_models.SITE_CACHE, TenantSiteCache):
            sites_models.SITE_CACHE = TenantSiteCache()
        TenantContext.add_listener(_keeper)
        on_tenant_lookups_dropped(_drop_cached_sites)
    else:
        TenantContext.remove_listener(_keeper)
        if isinstance(sites_models.SITE_CACHE, TenantSiteCache):
            sites_models.SITE_CACHE = {}
    tenant_created.connect(_tenant_created, dispatch_uid="omnitenant-sites")
    for sender in senders:
        for signal in (post_save, post_delete):
            signal.connect(
                _tenant_or_domain_changed,
                sender=sender,
                dispatch_uid=f"omnitenant-sites-{sender._meta.label}",
            )


def _drop_cached_sites() -> None:
    from django.contrib.sites import models as sites_models  # noqa: PLC0415 - optional app

    cache = sites_models.SITE_CACHE
    if isinstance(cache, TenantSiteCache):
        cache.drop_tenants()


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting in ("OMNITENANT_CONFIG", "INSTALLED_APPS"):
        apply_sites_setting()
