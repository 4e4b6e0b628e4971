"""Channels: consumers in the tenant of their host, groups that never cross tenants.

In-process through Channels' own communicators (in-memory and Redis layers), and once
over real WebSockets: daphne serving tests/channels/asgi.py in a child process on a free
127.0.0.1 port, the `websockets` client connecting with each tenant's Host header.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import socket
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import redis
from channels.layers import get_channel_layer
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import override_settings

from django_omnitenant.channels import tenant_group_name
from omnitenant_context import TenantContext
from tests.channels.asgi import application
from tests.servers import free_port, running_server
from tests.support import plain_tenant
from tests.tenantapp.models import Note
from tests.testapp.models import Domain, Tenant

pytestmark = pytest.mark.postgres

TENANTS = ("ch_acme", "ch_globex")


def host(tenant_id: str) -> str:
    return tenant_id.replace("_", "-") + ".example.test"


@pytest.fixture(scope="module")
def tenants(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    from django_omnitenant.utils import get_tenant_backend

    created: dict[str, Any] = {}
    with django_db_blocker.unblock():
        try:
            for tenant_id in TENANTS:
                tenant = Tenant.objects.create(tenant_id=tenant_id, name=tenant_id)
                created[tenant_id] = tenant
                get_tenant_backend(tenant).create(run_migrations=True)
                Domain.objects.create(tenant=tenant, domain=host(tenant_id))
                with TenantContext.use_tenant(tenant):
                    Note.objects.create(text=f"note of {tenant_id}")
            yield created
        finally:
            for tenant in created.values():
                get_tenant_backend(tenant).delete(drop_data=True)
                tenant.delete()


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())
    assert TenantContext.get_tenant() is None


def websocket(path: str, host_header: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=[(b"host", host_header.encode())])


# -- the consumer runs in its host's tenant ------------------------------------------------


def test_a_websocket_consumer_lives_in_its_hosts_tenant(tenants: dict[str, Any]) -> None:
    async def test() -> None:
        for tenant_id in TENANTS:
            communicator = websocket("/ws/whoami/", host(tenant_id))
            connected, _ = await communicator.connect()
            assert connected
            expected = {"tenant": tenant_id, "notes": [f"note of {tenant_id}"]}
            assert await communicator.receive_json_from() == {
                **expected,
                "scope_tenant": tenant_id,
            }
            await communicator.send_json_to({})  # a later message: still the tenant
            assert await communicator.receive_json_from() == expected
            await communicator.disconnect()

    run(test)


@pytest.mark.parametrize("bad_host", ["nobody.example.test", "bad_host!", ""])
def test_unknown_and_malformed_hosts_are_refused(tenants: dict[str, Any], bad_host: str) -> None:
    async def test() -> None:
        connected, _ = await websocket("/ws/whoami/", bad_host).connect()
        assert not connected
        response = await HttpCommunicator(
            application, "GET", "/consumer/whoami/", headers=[(b"host", bad_host.encode())]
        ).get_response()
        assert response["status"] == (404 if bad_host == "nobody.example.test" else 400)

    run(test)


def test_an_http_consumer_lives_in_its_hosts_tenant(tenants: dict[str, Any]) -> None:
    async def test() -> None:
        for tenant_id in TENANTS:
            communicator = HttpCommunicator(
                application,
                "GET",
                "/consumer/whoami/",
                headers=[(b"host", host(tenant_id).encode())],
            )
            response = await communicator.get_response()
            assert response["status"] == 200
            assert response["body"] == f"{tenant_id}:note of {tenant_id}".encode()

    run(test)


def test_the_public_host_has_no_tenant_and_public_groups(tenants: dict[str, Any]) -> None:
    async def test() -> None:
        communicator = websocket("/ws/chat/", str(settings.OMNITENANT_CONFIG["PUBLIC_HOST"]))
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"text": "hello, world"})
        assert await communicator.receive_json_from() == {
            "text": "hello, world",
            "from": None,
            "to": None,
        }
        await communicator.disconnect()

    run(test)


def test_under_subfolder_routing_the_router_sees_the_path_below_the_tenant(
    tenants: dict[str, Any],
) -> None:
    config = {
        **settings.OMNITENANT_CONFIG,
        "TENANT_RESOLVER": "django_omnitenant.resolvers.PathPrefixTenantResolver",
    }

    async def test() -> None:
        communicator = websocket("/t/ch_globex/ws/whoami/", "app.example.test")
        connected, _ = await communicator.connect()
        assert connected
        assert (await communicator.receive_json_from())["tenant"] == "ch_globex"
        await communicator.disconnect()
        refused, _ = await websocket("/t/nobody/ws/whoami/", "app.example.test").connect()
        assert not refused

    with override_settings(OMNITENANT_CONFIG=config):
        run(test)


# -- groups --------------------------------------------------------------------------------


def test_group_names_are_namespaced_by_the_active_tenant() -> None:
    assert tenant_group_name("chat") == "public.chat"
    with TenantContext.use_tenant(plain_tenant("acme")):
        assert tenant_group_name("chat") == "t.acme.chat"
        with TenantContext.use_master_db():
            assert tenant_group_name("chat") == "public.chat"


async def _broadcast_stays_in_its_tenant(path: str) -> None:
    acme_1, acme_2 = websocket(path, host("ch_acme")), websocket(path, host("ch_acme"))
    globex = websocket(path, host("ch_globex"))
    for communicator in (acme_1, acme_2, globex):
        connected, _ = await communicator.connect()
        assert connected
    await acme_1.send_json_to({"text": "for acme"})
    for communicator in (acme_1, acme_2):
        assert await communicator.receive_json_from(timeout=5) == {
            "text": "for acme",
            "from": "ch_acme",
            "to": "ch_acme",
        }
    assert await globex.receive_nothing(timeout=0.3)
    await globex.send_json_to({"text": "for globex"})
    assert (await globex.receive_json_from(timeout=5))["text"] == "for globex"
    assert await acme_1.receive_nothing(timeout=0.3)
    assert await acme_2.receive_nothing(timeout=0.3)
    for communicator in (acme_1, acme_2, globex):
        await communicator.disconnect()


def test_a_broadcast_reaches_only_its_tenants_sockets_in_memory(tenants: dict[str, Any]) -> None:
    async def test() -> None:
        await get_channel_layer().flush()
        await _broadcast_stays_in_its_tenant("/ws/chat/")

    run(test)


@pytest.fixture
def redis_layer() -> Iterator[Any]:
    layer = get_channel_layer("redis")
    yield layer
    asyncio.run(layer.flush())  # deletes this run's keys (the layer's own prefix)


@pytest.mark.redis
def test_a_broadcast_reaches_only_its_tenants_sockets_on_redis(
    tenants: dict[str, Any], redis_layer: Any
) -> None:
    seen_groups: set[str] = set()

    async def test() -> None:
        await _broadcast_stays_in_its_tenant("/ws/redis-chat/")
        # A sender outside any consumer (a view, a task) in tenant acme: only acme's
        # group, and only from inside the tenant.
        listener = websocket("/ws/redis-chat/", host("ch_acme"))
        assert (await listener.connect())[0]
        client = redis.Redis(host="127.0.0.1", port=6379, db=15)
        prefix: str = redis_layer.prefix
        for key in client.scan_iter(match=f"{prefix}:group:*"):
            seen_groups.add(key.decode().split(":group:", 1)[1])
        client.close()
        with TenantContext.use_tenant(tenants["ch_acme"]):
            await redis_layer.group_send(
                "chat", {"type": "chat.message", "text": "from a task", "from": "task"}
            )
        assert (await listener.receive_json_from(timeout=5))["text"] == "from a task"
        await redis_layer.group_send(
            "chat", {"type": "chat.message", "text": "no tenant", "from": None}
        )
        assert await listener.receive_nothing(timeout=0.3)
        await listener.disconnect()

    run(test)
    assert seen_groups == {"t.ch_acme.chat"}  # the globex sockets had left by then


# -- a real WebSocket server --------------------------------------------------------------


@pytest.fixture(scope="module")
def server_port(tenants: dict[str, Any]) -> Iterator[int]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "daphne",
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "tests.channels.asgi:application",
    ]
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "OMNITENANT_TEST_DATABASE": connections["default"].settings_dict["NAME"],
    }
    with running_server(argv, port, env):
        yield port


def connect(port: int, tenant_host: str, path: str) -> Any:
    from websockets.sync.client import connect as ws_connect

    # The socket goes to 127.0.0.1; the URI's host is what the server sees as Host.
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ws_connect(f"ws://{tenant_host}{path}", sock=sock, open_timeout=10)


@pytest.mark.redis
def test_over_a_real_websocket(server_port: int, redis_layer: Any) -> None:
    from websockets.exceptions import InvalidStatus

    for tenant_id in TENANTS:
        with connect(server_port, host(tenant_id), "/ws/whoami/") as ws:
            assert json.loads(ws.recv(timeout=10)) == {
                "tenant": tenant_id,
                "scope_tenant": tenant_id,
                "notes": [f"note of {tenant_id}"],
            }
    with pytest.raises(InvalidStatus) as refused:
        connect(server_port, "nobody.example.test", "/ws/whoami/")
    assert refused.value.response.status_code == 403

    with (
        connect(server_port, host("ch_acme"), "/ws/redis-chat/") as acme_1,
        connect(server_port, host("ch_acme"), "/ws/redis-chat/") as acme_2,
        connect(server_port, host("ch_globex"), "/ws/redis-chat/") as globex,
    ):
        acme_1.send(json.dumps({"text": "over the wire"}))
        for ws in (acme_1, acme_2):
            assert json.loads(ws.recv(timeout=10)) == {
                "text": "over the wire",
                "from": "ch_acme",
                "to": "ch_acme",
            }
        with pytest.raises(TimeoutError):
            globex.recv(timeout=0.5)


def test_without_channels_the_import_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "channels", None)  # as if not installed
    for name in [m for m in sys.modules if m.startswith("django_omnitenant.channels")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r"omnitenant-django\[channels\]"):
        importlib.import_module("django_omnitenant.channels")
