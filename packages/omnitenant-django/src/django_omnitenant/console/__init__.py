"""The fleet console: every tenant of the deployment on one page, for operators.

Include it in the URLconf of the public host (``PUBLIC_URLCONF``, or ``ROOT_URLCONF``
when the public host shares it), beside the admin::

    urlpatterns = [
        path("admin/", admin.site.urls),
        path("console/", include("django_omnitenant.console.urls")),
    ]

Staff only (``is_staff``; an action also needs the ``change`` permission of the tenant
model); it answers 404 on a tenant's host. The list shows each tenant's state, isolation
type, server, domains, pending migrations and storage size with a bounded number of
queries per page whatever the size of the fleet (see ``docs/console.md``); actions go
through :mod:`django_omnitenant.provisioning` after a confirmation and are recorded in
the tenant's history (:class:`~django_omnitenant.models.TenantStateChange`).
"""

from __future__ import annotations

from django_omnitenant.console._actions import ACTIONS, Action, ActionRefused, run_action
from django_omnitenant.console._fleet import PAGE_SIZE, FleetFilters, TenantRow, fleet_page

__all__ = [
    "ACTIONS",
    "PAGE_SIZE",
    "Action",
    "ActionRefused",
    "FleetFilters",
    "TenantRow",
    "fleet_page",
    "run_action",
]
