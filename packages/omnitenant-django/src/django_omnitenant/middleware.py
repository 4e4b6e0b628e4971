"""``TenantMiddleware``: finds the request's tenant and runs the view inside it.

Put it first in ``MIDDLEWARE`` (before anything that touches the database, the session
or the cache)::

    MIDDLEWARE = ["django_omnitenant.middleware.TenantMiddleware", ...]

For each request it asks the ``TENANT_RESOLVER``:

* the ``PUBLIC_HOST`` is served with no tenant (``request.tenant`` is ``None``);
* a host that names a tenant is served inside that tenant (``request.tenant``);
* a host that names no tenant answers 404 (or is served without a tenant when
  ``UNKNOWN_HOST`` is ``"public"``);
* a malformed host, or one outside ``ALLOWED_HOSTS``, answers 400;
* a tenant that is not active answers for its lifecycle state: ``provisioning`` and
  ``maintenance`` 503 with ``Retry-After`` (in maintenance, GET/HEAD/OPTIONS are served
  on a read-only database session when ``MAINTENANCE_ALLOW_READS`` is on, and a write
  they attempt answers 503 too), ``suspended`` 403 or 404 (``SUSPENDED_RESPONSE``).

With a resolver that reads the tenant from the path (``PathPrefixTenantResolver``), the
tenant's segment (``/t/acme``) becomes part of the request's script name for the view:
the URLconf resolves the rest, and ``reverse()`` puts the segment back.

The context is set and reset within the middleware's own call, so nothing survives the
request, also when the view raises. Two things run after the middleware has returned and
re-enter the request's tenant: a streaming response, around each chunk it produces, and
the response's ``close()`` (which the server calls once the body is sent, and which sends
``request_finished`` and runs the response's resource closers). Works under WSGI and
ASGI: on ASGI a warm lookup stays on the event loop, and only a cache miss runs the ORM
in a thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from types import ModuleType
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.exceptions import DisallowedHost, SynchronousOnlyOperation
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotFound,
)
from django.http.response import HttpResponseBase, StreamingHttpResponse

from django_omnitenant import lifecycle
from django_omnitenant._mount import MountedAt
from django_omnitenant.conf import AppSettings, OmnitenantConfigurationError, app_settings
from django_omnitenant.constants import TenantStatus
from django_omnitenant.models import BaseTenant
from django_omnitenant.urlconfs import urlconf_for
from django_omnitenant.utils import get_tenant_model, import_from_setting
from omnitenant_context import (
    EMPTY_STATE,
    ContextState,
    InvalidHost,
    PathMountingResolver,
    Tenant,
    TenantContext,
    TenantResolver,
)
from omnitenant_resolvers import HOST_ATTRIBUTE, normalize_host_cached

__all__ = ["TenantMiddleware"]

_normalize = normalize_host_cached


class _Resolution:
    """What the middleware decided for a request: a state to run in, or a response."""

    __slots__ = ("mount", "read_only", "response", "state", "tenant", "urlconf")

    def __init__(
        self,
        tenant: Tenant | None = None,
        response: HttpResponseBase | None = None,
        mount: str | None = None,
        *,
        read_only: bool = False,
        urlconf: str | ModuleType | None = None,
    ) -> None:
        self.tenant = tenant
        self.response = response
        self.read_only = read_only
        self.state = EMPTY_STATE if tenant is None else _state_of(tenant)
        self.mount = mount  # the path segment that named the tenant ("/t/acme"), if any
        self.urlconf = urlconf

    def mounted(self, request: HttpRequest) -> AbstractContextManager[None]:
        """The request served below its tenant's path segment, when it has one."""
        return _NOT_MOUNTED if self.mount is None else MountedAt(request, self.mount)


_NOT_MOUNTED: AbstractContextManager[None] = nullcontext()

# One state per tenant object, made on its first request and reused: a warm request
# allocates none, and the engine's memo (keyed by the state's identity) stays valid for
# as long as requests stay in one tenant. Keyed by id(): the entry holds the tenant (as
# the state's), so the id cannot be reused while the entry lives, and a tenant the store
# reloaded is a new object with a new entry. Bounded, so it never grows with the number
# of tenants a process has served.
_states: dict[int, ContextState] = {}
_MAX_STATES = 4096


def _state_of(tenant: Tenant) -> ContextState:
    state = _states.get(id(tenant))
    if state is None or state.tenant is not tenant:
        if len(_states) >= _MAX_STATES:
            _states.clear()
        state = _states[id(tenant)] = ContextState(tenant=tenant)
    return state


# Hosts Django's ``get_host()`` accepted, normalised, by the raw value it read them from
# (``_get_raw_host()``: X-Forwarded-Host when trusted, else Host or SERVER_NAME). Its
# check against ALLOWED_HOSTS depends only on that value and the settings, so a host
# accepted once is accepted again until a setting changes (``forget_accepted_hosts`` runs
# on setting_changed); a refused host is never kept. Django validates again in
# CommonMiddleware; this spares the second full validation of each request. Bounded.
_accepted_hosts: dict[str, str] = {}
_MAX_ACCEPTED_HOSTS = 4096
_DJANGO_GET_HOST = HttpRequest.get_host
#: The settings ``get_host()`` depends on: a change of any forgets the accepted hosts.
HOST_SETTINGS = frozenset(
    {"ALLOWED_HOSTS", "DEBUG", "USE_X_FORWARDED_HOST", "USE_X_FORWARDED_PORT"}
)


def _accepted_host(request: HttpRequest) -> str:
    """The request's host, validated by Django and normalised (raises for a bad one)."""
    if type(request).get_host is not _DJANGO_GET_HOST:
        return _normalize(request.get_host())  # a request class with its own rules
    raw: str = request._get_raw_host()  # type: ignore[attr-defined]  # Django's, not in the stubs
    host = _accepted_hosts.get(raw)
    if host is None:
        host = _normalize(request.get_host())
        if len(_accepted_hosts) >= _MAX_ACCEPTED_HOSTS:
            _accepted_hosts.clear()
        _accepted_hosts[raw] = host
    return host


def forget_accepted_hosts() -> None:
    """Forget every accepted host (the host settings changed)."""
    _accepted_hosts.clear()


# An active tenant's resolution without a mount point or URLconf, by tenant object: kept
# like ``_states`` (by id, holding the tenant, bounded). Never mutated once made.
_plain_resolutions: dict[int, _Resolution] = {}
_ACTIVE = TenantStatus.ACTIVE


def _remember_plain_resolution(tenant: Tenant) -> _Resolution:
    if len(_plain_resolutions) >= _MAX_STATES:
        _plain_resolutions.clear()
    resolution = _plain_resolutions[id(tenant)] = _Resolution(tenant)
    return resolution


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _unavailable(reason: str) -> HttpResponse:
    response = HttpResponse(f"Service Unavailable: {reason}", status=503)
    response["Retry-After"] = str(lifecycle.retry_after())
    return response


def _gate(tenant: Tenant, request: HttpRequest, conf: AppSettings) -> HttpResponse | None:
    """The answer for a tenant that is not active; ``None`` serves it read-only.

    A cold path: the warm path of an active tenant returns before it.
    """
    status = lifecycle.status_of(tenant)
    if status == TenantStatus.MAINTENANCE:
        if conf.maintenance_allow_reads and request.method in _SAFE_METHODS:
            return None
        return _unavailable("the site is under maintenance.")
    if status == TenantStatus.PROVISIONING:
        return _unavailable("the site is being set up.")
    if status == TenantStatus.SUSPENDED and lifecycle.suspended_status_code() == 403:
        return HttpResponse("Forbidden: this site is suspended.", status=403)
    return HttpResponseNotFound("Not Found: unknown host.")


class TenantMiddleware:
    """Resolves the tenant of each request and runs the rest of the stack inside it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        # Built from the settings object in ``_built_from`` on first use, and again when
        # the settings are replaced (override_settings): comparing identity costs less
        # than a listener and leaves nothing behind in a global list.
        self._built_from: AppSettings | None = None
        self._resolver: TenantResolver | None = None
        self._public_host: str | None = None
        self._mounting: PathMountingResolver | None = None
        self._urlconfs_by_host_kind = False

    # -- configuration, read once and again after a settings change -------------------

    def _configure(self) -> tuple[AppSettings, TenantResolver]:
        conf = app_settings()
        resolver = self._resolver
        if resolver is None or conf is not self._built_from:
            # The public host first: another thread that sees the new resolver must also
            # see the host that goes with it.
            self._public_host = None if conf.public_host is None else _normalize(conf.public_host)
            # Plain projects pay nothing per request for URLconfs by kind of host.
            self._urlconfs_by_host_kind = bool(
                conf.public_urlconf
                or conf.tenant_urlconf
                or conf.urlconf_per_tenant
                or _tenant_model_overrides_urlconf()
            )
            resolver_class = import_from_setting("TENANT_RESOLVER", conf.tenant_resolver)
            resolver = cast("TenantResolver", resolver_class())
            # Before the resolver: a thread that sees the new resolver sees its mounting.
            self._mounting = resolver if isinstance(resolver, PathMountingResolver) else None
            self._resolver = resolver
            self._built_from = conf
        return conf, resolver

    # -- resolution -------------------------------------------------------------------

    def _resolve(self, request: HttpRequest) -> _Resolution:
        conf = app_settings()
        resolver = self._resolver
        if resolver is None or conf is not self._built_from:
            conf, resolver = self._configure()
        try:
            host = _accepted_host(request)
        except (InvalidHost, DisallowedHost):
            return _Resolution(response=HttpResponseBadRequest("Bad Request: invalid host."))
        # The resolver reads it from here instead of validating the host again.
        setattr(request, HOST_ATTRIBUTE, host)
        if host == self._public_host:
            return self._admit(None)
        try:
            tenant = resolver.resolve(request)
        except InvalidHost:
            return _Resolution(response=HttpResponseBadRequest("Bad Request: invalid host."))
        if tenant is None:
            if conf.unknown_host == "not_found":
                return _Resolution(response=HttpResponseNotFound("Not Found: unknown host."))
            return self._admit(None)
        return self._admit_tenant(request, tenant, conf)

    def _admit_tenant(self, request: HttpRequest, tenant: Tenant, conf: AppSettings) -> _Resolution:
        if (
            getattr(tenant, "status", _ACTIVE) == _ACTIVE
            and self._mounting is None
            and not self._urlconfs_by_host_kind
        ):
            # Most requests: an active tenant served as it is. That resolution holds
            # nothing of the request, so one per tenant object serves them all.
            resolution = _plain_resolutions.get(id(tenant))
            if resolution is None or resolution.tenant is not tenant:
                resolution = _remember_plain_resolution(tenant)
            return resolution
        read_only = False
        if getattr(tenant, "status", TenantStatus.ACTIVE) != TenantStatus.ACTIVE:
            refusal = _gate(tenant, request, conf)
            if refusal is not None:
                return _Resolution(response=refusal)
            read_only = True
        mounting = self._mounting
        mount = None if mounting is None else mounting.mount_point(request, tenant)
        return self._admit(tenant, mount=mount, read_only=read_only)

    def _admit(
        self,
        tenant: Tenant | None,
        *,
        mount: str | None = None,
        read_only: bool = False,
    ) -> _Resolution:
        if self._urlconfs_by_host_kind:
            # May build a per-tenant URLconf (the ORM): under ASGI that is retried in a
            # thread like a cache miss of the tenant lookup.
            return _Resolution(
                tenant, mount=mount, read_only=read_only, urlconf=urlconf_for(tenant)
            )
        return _Resolution(tenant, mount=mount, read_only=read_only)

    # -- the call ---------------------------------------------------------------------

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        resolution = self._resolve(request)
        if resolution.response is not None:
            return resolution.response
        request.tenant = resolution.tenant  # type: ignore[attr-defined]  # documented extra attribute
        if resolution.urlconf is not None:
            request.urlconf = resolution.urlconf  # type: ignore[assignment]  # Django accepts a module too
        if resolution.mount is None and not resolution.read_only:
            # The common case, without the context managers it does not need.
            response = TenantContext.run_in_state(resolution.state, self.get_response, request)
            return _keep_tenant_after_return(response, resolution.state)
        with TenantContext.use_state(resolution.state), resolution.mounted(request):
            if resolution.read_only and resolution.tenant is not None:
                with lifecycle.read_only(resolution.tenant):
                    response = self.get_response(request)
            else:
                response = self.get_response(request)
        return _keep_tenant_after_return(response, resolution.state)

    async def __acall__(self, request: HttpRequest) -> Any:
        try:
            resolution = self._resolve(request)
        except SynchronousOnlyOperation:
            # A cache miss needs the ORM, which may not run on the event loop.
            resolution = await sync_to_async(self._resolve)(request)
        if resolution.response is not None:
            return resolution.response
        request.tenant = resolution.tenant  # type: ignore[attr-defined]  # documented extra attribute
        if resolution.urlconf is not None:
            request.urlconf = resolution.urlconf  # type: ignore[assignment]  # Django accepts a module too
        get_response = cast("Callable[[HttpRequest], Awaitable[Any]]", self.get_response)
        with TenantContext.use_state(resolution.state), resolution.mounted(request):
            tenant = resolution.tenant
            if resolution.read_only and tenant is not None:
                # The ORM of async views runs in the thread-sensitive executor: switch
                # that thread's connection.
                await sync_to_async(lifecycle.set_read_only)(tenant, True)
                try:
                    response = await get_response(request)
                finally:
                    await sync_to_async(lifecycle.set_read_only)(tenant, False)
            else:
                response = await get_response(request)
        return _keep_tenant_after_return(response, resolution.state)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        """A write refused because the tenant is in maintenance answers 503, not 500."""
        if lifecycle.is_read_only_violation(exception) or isinstance(
            exception, lifecycle.TenantReadOnly
        ):
            return _unavailable("the site is under maintenance (read-only).")
        return None


def _tenant_model_overrides_urlconf() -> bool:
    # BaseTenant.get_urlconf() returns None; only a subclass that overrides it counts.
    try:
        model = get_tenant_model()
    except OmnitenantConfigurationError:
        return False
    return getattr(model, "get_urlconf", None) is not BaseTenant.get_urlconf


class _CloseInState:
    """A response's ``close()``, run in the request's context state.

    It sits on the response it closes, so it must not keep that response alive in a
    cycle (response -> its ``close`` -> the response): then every response, with its
    headers and body, would wait for the garbage collector instead of being freed as soon
    as the server lets go of it. The first call takes it off the response (the ``close``
    the response had before comes back), which breaks the cycle; any later call of this
    object still closes in the request's state.
    """

    __slots__ = ("_close", "_close_was_set", "_response", "_state")

    def __init__(self, state: ContextState, response: HttpResponseBase) -> None:
        self._state = state
        self._response: HttpResponseBase | None = response
        self._close: Callable[[], None] = response.close
        # Whether that close() was set on this response (another wrapper), to put back.
        self._close_was_set = "close" in response.__dict__

    def __call__(self) -> None:
        response, self._response = self._response, None
        if response is not None and response.__dict__.get("close") is self:
            if self._close_was_set:
                response.close = self._close  # type: ignore[method-assign]  # restoring its own
            else:
                del response.close
        TenantContext.run_in_state(self._state, self._close)


def _keep_tenant_after_return(response: Any, state: ContextState) -> Any:
    """Make what runs after the middleware returned run in the request's tenant too."""
    if state.tenant is None and state.is_empty:  # a tenant's state never is: no call
        return response
    # The servers (WSGI and Django's ASGI handler) call response.close() once the body
    # is sent: it sends request_finished, whose receivers must see the tenant whose
    # request finished. An attribute of this one response, nothing global.
    response.close = _CloseInState(state, response)
    if not isinstance(response, StreamingHttpResponse):
        return response
    if response.is_async:
        response.streaming_content = _async_chunks_in(
            state, cast("AsyncIterator[bytes]", response.streaming_content)
        )
    else:
        response.streaming_content = _chunks_in(
            state, cast("Iterable[bytes]", response.streaming_content)
        )
    return response


def _chunks_in(state: ContextState, content: Iterable[bytes]) -> Iterator[bytes]:
    # The context is entered around each next() only, so it never stays set in the
    # server's thread between two chunks.
    iterator = iter(content)
    while True:
        with TenantContext.use_state(state):
            try:
                chunk = next(iterator)
            except StopIteration:
                return
        yield chunk


async def _async_chunks_in(
    state: ContextState, content: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    iterator = aiter(content)
    while True:
        with TenantContext.use_state(state):
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                return
        yield chunk
