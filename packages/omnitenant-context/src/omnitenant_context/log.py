"""A ``logging`` filter that puts the active tenant on every record: ``%(tenant)s``.

Attach it to a *handler* (a filter on a logger does not see the records its children
propagate), then use ``%(tenant)s`` in the handler's format::

    LOGGING = {
        "version": 1,
        "filters": {"tenant": {"()": "omnitenant_context.log.TenantLogFilter"}},
        "formatters": {"plain": {"format": "%(levelname)s [%(tenant)s] %(message)s"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["tenant"],
                "formatter": "plain",
            }
        },
        "root": {"handlers": ["console"], "level": "INFO"},
    }

The value is read from the tenant context of the code that logs, so it is right in
threads, asyncio tasks and Celery tasks alike. Standard library only.
"""

from __future__ import annotations

import logging

from omnitenant_context._context import TenantContext

__all__ = ["TenantLogFilter"]


class TenantLogFilter(logging.Filter):
    """Sets ``record.tenant``: the active tenant's id, ``"master"``, or ``"-"``.

    ``"master"`` inside :meth:`TenantContext.use_master_db`; ``none`` (``"-"`` unless
    given) when no tenant is active. A ``tenant`` passed in ``extra=`` is kept. Every
    record passes: the filter only adds the attribute.
    """

    def __init__(self, name: str = "", none: str = "-") -> None:
        super().__init__(name)
        self.none = none

    def filter(self, record: logging.LogRecord) -> bool:
        if "tenant" not in record.__dict__:
            state = TenantContext.get_state()
            if state.master:
                record.tenant = "master"
            elif state.tenant is not None:
                record.tenant = state.tenant.tenant_id
            else:
                record.tenant = self.none
        return True
