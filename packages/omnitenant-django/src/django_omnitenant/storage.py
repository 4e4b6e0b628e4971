"""Tenant media storage: every tenant's files under a prefix of its own.

For ``STORAGES["default"]`` (uploads, ``FileField``)::

    STORAGES = {
        "default": {"BACKEND": "django_omnitenant.storage.TenantFileSystemStorage"},
        "staticfiles": {...},
    }

Inside tenant ``acme`` the file ``invoices/1.pdf`` is stored as ``acme/invoices/1.pdf``
below ``MEDIA_ROOT`` and served at ``MEDIA_URL + "acme/invoices/1.pdf"``; the name saved
in the database is ``invoices/1.pdf``, relative to the tenant. Any other storage class
gets the same behaviour from :class:`TenantPrefixMixin`, e.g. django-storages' S3::

    class TenantS3Storage(TenantPrefixMixin, S3Storage):
        pass

Guarantees:

* **A name cannot leave its tenant's prefix.** Names are checked before the prefix is
  added: an absolute name, a ``..`` segment (``/`` or ``\\`` separated) or a NUL byte
  raises ``SuspiciousFileOperation``; a name that starts with another tenant's id
  (``globex/x.txt`` inside ``acme``) is simply a folder inside ``acme/``.
* **No tenant, no file (fail closed).** With no tenant active every operation raises
  :class:`~omnitenant_context.NoTenantActive`, unless the storage is given a
  ``shared_prefix`` (``OPTIONS: {"shared_prefix": "shared-files"}``): then files outside
  any tenant go there. The shared prefix can never be a tenant id (it must contain a
  character tenant ids cannot, such as ``-``), so no tenant can reach it.

How: each public method that takes a name (``exists``, ``open``/``_open``, ``_save``,
``delete``, ``size``, ``url``, ``path``, ``listdir``, the ``get_*_time`` methods,
``get_available_name``) adds the prefix and calls the storage class below; names it
returns (``_save``, ``get_available_name``) lose the prefix again. Storage classes call
their own public methods from inside (``FileSystemStorage._save`` calls ``path()`` and
``get_available_name()``); those inner calls get the name as it is, already prefixed:
a context variable remembers which storage is inside one of its own operations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import IO, Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, Storage

from omnitenant_context import (
    ConfigurationError,
    NoTenantActive,
    Tenant,
    TenantContext,
    is_valid_identifier,
)

__all__ = ["TenantFileSystemStorage", "TenantPrefixMixin"]

# The storage (if any) that is inside one of its own prefixed operations, in this context.
_inside: ContextVar[Storage | None] = ContextVar("omnitenant_storage_inside", default=None)


def check_relative_name(name: str) -> str:
    """Return ``name`` if it stays below the folder it is joined to, else raise.

    Raises:
        SuspiciousFileOperation: ``name`` is absolute, has a ``..`` segment or a NUL.
    """
    if "\x00" in name:
        raise SuspiciousFileOperation("A file name must not contain a NUL byte.")
    parts = name.replace("\\", "/").split("/")
    absolute = name.startswith(("/", "\\")) or (len(parts[0]) == 2 and parts[0][1] == ":")
    if absolute or ".." in parts:
        raise SuspiciousFileOperation(
            f"The file name {name[:80]!r} would leave the tenant's folder."
        )
    return name


class TenantPrefixMixin(Storage):
    """Keeps each tenant's files under ``<tenant id>/`` of the storage it is mixed into.

    Put it first among the bases: ``class TenantS3Storage(TenantPrefixMixin, S3Storage)``.

    Args:
        shared_prefix: Where files go when no tenant is active; ``None`` (the default)
            refuses them. Must not be a valid tenant id (use e.g. ``"shared-files"``).
        *args, **kwargs: The options of the storage class below.
    """

    def __init__(self, *args: Any, shared_prefix: str | None = None, **kwargs: Any) -> None:
        if shared_prefix is not None:
            shared_prefix = shared_prefix.strip("/")
            check_relative_name(shared_prefix)
            if not shared_prefix or is_valid_identifier(shared_prefix.split("/", 1)[0]):
                raise ConfigurationError(
                    f"The storage's shared_prefix {shared_prefix!r} could be a tenant id; "
                    "give it a character tenant ids cannot have, e.g. 'shared-files'."
                )
        self.shared_prefix = shared_prefix
        super().__init__(*args, **kwargs)

    def tenant_prefix(self, tenant: Tenant) -> str:
        """The prefix of ``tenant``'s files, ending with ``/``; override to change it."""
        return f"{tenant.tenant_id}/"

    def current_prefix(self) -> str:
        """The prefix of the active tenant, or the shared prefix when none is active.

        Raises:
            NoTenantActive: No tenant is active and there is no shared prefix.
        """
        tenant = TenantContext.get_tenant()
        if tenant is not None:
            return self.tenant_prefix(tenant)
        if self.shared_prefix is None:
            raise NoTenantActive(
                f"{type(self).__name__} keeps files per tenant and no tenant is active. "
                "Enter one (TenantContext.use_tenant), or give the storage a "
                "'shared_prefix' option for files that belong to no tenant."
            )
        return self.shared_prefix + "/"

    @contextmanager
    def _prefixed(self, name: str) -> Iterator[tuple[str, str]]:
        """Yield (the name to pass down, the prefix added) for one operation."""
        if _inside.get() is self:  # an inner call: the name carries its prefix already
            yield name, ""
            return
        prefix = self.current_prefix()
        full = prefix + check_relative_name(str(name))
        token = _inside.set(self)
        try:
            yield full, prefix
        finally:
            _inside.reset(token)

    @staticmethod
    def _unprefixed(name: str, prefix: str) -> str:
        name = name.replace("\\", "/")
        if not name.startswith(prefix):
            raise SuspiciousFileOperation(
                f"The storage returned {name[:80]!r}, which is outside {prefix!r}."
            )
        return name[len(prefix) :]

    # -- the operations ---------------------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        with self._prefixed(name) as (full, _):
            opened: File[Any] = super()._open(full, mode)  # type: ignore[misc]  # abstract on Storage, real below us
            return opened

    def _save(self, name: str, content: IO[Any]) -> str:
        with self._prefixed(name) as (full, prefix):
            saved: str = super()._save(full, content)  # type: ignore[misc]  # as _open
            return self._unprefixed(saved, prefix) if prefix else saved

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        with self._prefixed(name) as (full, prefix):
            # max_length limits the name stored in the database: the one without prefix.
            if max_length is not None:
                max_length += len(prefix)
            available = super().get_available_name(full, max_length)
            return self._unprefixed(available, prefix) if prefix else available

    def delete(self, name: str) -> None:
        with self._prefixed(name) as (full, _):
            super().delete(full)

    def exists(self, name: str) -> bool:
        with self._prefixed(name) as (full, _):
            return super().exists(full)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        with self._prefixed(path) as (full, _):
            return super().listdir(full)

    def size(self, name: str) -> int:
        with self._prefixed(name) as (full, _):
            return super().size(full)

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        if name is None:
            return super().url(name, *args, **kwargs)
        with self._prefixed(name) as (full, _):
            return super().url(full, *args, **kwargs)

    def path(self, name: str) -> str:
        with self._prefixed(name) as (full, _):
            return super().path(full)

    def get_accessed_time(self, name: str) -> datetime:
        with self._prefixed(name) as (full, _):
            return super().get_accessed_time(full)

    def get_created_time(self, name: str) -> datetime:
        with self._prefixed(name) as (full, _):
            return super().get_created_time(full)

    def get_modified_time(self, name: str) -> datetime:
        with self._prefixed(name) as (full, _):
            return super().get_modified_time(full)


class TenantFileSystemStorage(TenantPrefixMixin, FileSystemStorage):
    """``FileSystemStorage`` with a folder per tenant: ``MEDIA_ROOT/<tenant id>/``.

    URLs follow: ``MEDIA_URL/<tenant id>/<name>``. Serve ``MEDIA_ROOT`` as usual (the web
    server, or ``django.views.static.serve`` in development); every tenant's URLs are
    distinct, so a URL of one tenant never shows another's file of the same name.
    """
