"""Template loaders: a tenant's own templates first, and a cache that keeps them apart.

In ``TEMPLATES[...]["OPTIONS"]["loaders"]`` (Django then adds no loader of its own)::

    "loaders": [
        (
            "django_omnitenant.loaders.CachedLoader",
            [
                ("django_omnitenant.loaders.TenantDirectoriesLoader", [TENANT_TEMPLATES]),
                "django.template.loaders.filesystem.Loader",
                "django.template.loaders.app_directories.Loader",
            ],
        )
    ]

Inside tenant ``acme``, ``get_template("base.html")`` finds
``TENANT_TEMPLATES/acme/base.html`` if it exists, else the project's ``base.html``. With
no tenant active, :class:`TenantDirectoriesLoader` finds nothing.

Django's own ``cached.Loader`` keys its cache by template name only, so the first
tenant to load ``base.html`` would decide it for every tenant: wrap the tenant loader in
:class:`CachedLoader` instead (system check ``omnitenant.W004`` catches the mistake).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.template.loaders import cached, filesystem

from omnitenant_context import TenantContext

__all__ = ["CachedLoader", "TenantDirectoriesLoader"]


class TenantDirectoriesLoader(filesystem.Loader):
    """Looks in ``<dir>/<tenant id>/`` of each of its directories (or the engine's ``DIRS``).

    Template names go through Django's ``safe_join`` as for the file-system loader, so
    ``../globex/base.html`` cannot leave the tenant's folder; tenant ids are plain
    identifiers, so the folder itself is always inside the directory.
    """

    def get_dirs(self) -> list[str | Path]:
        tenant = TenantContext.get_tenant()
        if tenant is None:
            return []
        return [Path(directory) / tenant.tenant_id for directory in super().get_dirs()]


class CachedLoader(cached.Loader):
    """Django's cached loader, with the active tenant in every cache key.

    Each tenant caches its own compiled templates (a template without a tenant override
    is compiled once per tenant that uses it).
    """

    def cache_key(self, template_name: str, skip: Any = None) -> str:
        tenant = TenantContext.get_tenant()
        key: str = super().cache_key(template_name, skip)
        return key if tenant is None else f"{tenant.tenant_id}:{key}"
