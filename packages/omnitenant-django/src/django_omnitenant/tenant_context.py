"""The tenant context, under the import path the API reference documents.

``django_omnitenant.tenant_context.TenantContext`` *is*
:class:`omnitenant_context.TenantContext`: one context shared by every layer.
"""

from omnitenant_context import ContextState, TenantContext, TenantScope

__all__ = ["ContextState", "TenantContext", "TenantScope"]
