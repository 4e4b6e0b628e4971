"""Consumers as a project writes them: no tenant code in them at all."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.http import AsyncHttpConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from omnitenant_context import TenantContext
from tests.tenantapp.models import Note


def _tenant_id() -> str | None:
    tenant = TenantContext.get_tenant()
    return None if tenant is None else tenant.tenant_id


@database_sync_to_async
def _notes() -> list[str]:
    # Runs in a worker thread: the tenant must have followed the call there.
    return sorted(Note.objects.values_list("text", flat=True))


class WhoAmIConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        scope_tenant = self.scope["tenant"]
        await self.send_json(
            {
                "tenant": _tenant_id(),
                "scope_tenant": None if scope_tenant is None else scope_tenant.tenant_id,
                "notes": await _notes(),
            }
        )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # Later messages are handled in the tenant too, with database access.
        await self.send_json({"tenant": _tenant_id(), "notes": await _notes()})


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """Everyone in the room "chat" hears every message: of their own tenant only."""

    channel_layer_alias = "default"

    async def connect(self) -> None:
        await self.channel_layer.group_add("chat", self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard("chat", self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.channel_layer.group_send(
            "chat", {"type": "chat.message", "text": content["text"], "from": _tenant_id()}
        )

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"text": event["text"], "from": event["from"], "to": _tenant_id()})


class RedisChatConsumer(ChatConsumer):
    channel_layer_alias = "redis"


class WhoAmIHttpConsumer(AsyncHttpConsumer):
    async def handle(self, body: bytes) -> None:
        text = f"{_tenant_id()}:{','.join(await _notes())}"
        await self.send_response(200, text.encode(), headers=[(b"content-type", b"text/plain")])
