"""Subfolder routing: serve ``/t/acme/...`` as if the site were mounted at ``/t/acme``.

Django already knows how to run a site below a path: ``SCRIPT_NAME``. The request's
``path_info`` (what the URLconf resolves) lacks it, ``request.path`` (what
``build_absolute_uri()`` and ``get_full_path()`` use) keeps it, and ``reverse()`` puts it
back through the *script prefix*. :class:`MountedAt` extends the request's script name
by the tenant's segment in exactly those three places, so an unchanged app, the admin and
the login redirects work under ``/t/<tenant>/``.

The script prefix is Django's own ``set_script_prefix``: an ``asgiref`` ``Local``, so it
is per thread under WSGI and per task (context) under ASGI, where it also follows a sync
view into its worker thread. It is set on entry and the previous value restored on exit,
so nothing of one request's tenant is left for the next code running in the thread.
"""

from __future__ import annotations

from types import TracebackType

from django.http import HttpRequest
from django.urls import get_script_prefix, set_script_prefix

__all__ = ["MountedAt"]


class MountedAt:
    """Moves ``mount`` (``"/t/acme"``) from the request's path info to its script name."""

    __slots__ = ("_mount", "_previous_prefix", "_request")

    def __init__(self, request: HttpRequest, mount: str) -> None:
        self._request = request
        self._mount = mount
        self._previous_prefix: str | None = None

    def __enter__(self) -> None:
        request, mount = self._request, self._mount
        path_info = request.path_info
        # What precedes path_info in the full path is the site's own SCRIPT_NAME (if
        # any); the tenant's segment goes after it.
        script_name = request.path[: len(request.path) - len(path_info)].rstrip("/") + mount
        request.path_info = path_info[len(mount) :] or "/"
        request.META["SCRIPT_NAME"] = script_name
        request.META["PATH_INFO"] = request.path_info
        request.script_name = script_name  # type: ignore[attr-defined]  # ASGIRequest has it; WSGIRequest gets it too
        self._previous_prefix = get_script_prefix()
        set_script_prefix(script_name)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._previous_prefix is not None:
            set_script_prefix(self._previous_prefix)
