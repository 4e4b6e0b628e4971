"""The request type of views served by :class:`~django_omnitenant.middleware.TenantMiddleware`.

The middleware sets ``request.tenant``: the tenant the request is served in, or ``None``
on the public host. Annotate a view's request with :class:`TenantHttpRequest` and mypy
knows the attribute, with no ``type: ignore``::

    from django_omnitenant.http import TenantHttpRequest

    def whoami(request: TenantHttpRequest) -> HttpResponse:
        tenant = request.tenant  # BaseTenant | None
        ...

For your tenant model's own fields, narrow the attribute in a subclass once::

    class CustomerRequest(TenantHttpRequest):
        tenant: Customer | None

With the default tenant store the tenant is an instance of ``TENANT_MODEL``. Nothing
changes at run time: the view receives Django's request; the class only names its type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django_omnitenant.models import BaseTenant

__all__ = ["TenantHttpRequest"]


class TenantHttpRequest(HttpRequest):
    """An ``HttpRequest`` with the ``tenant`` attribute the middleware sets."""

    #: The tenant the request is served in; ``None`` on the public host.
    tenant: BaseTenant | None
