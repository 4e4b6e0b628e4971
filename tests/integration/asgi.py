"""A minimal ASGI client: one HTTP request straight into Django's ASGI handler.

Django's AsyncClient always sends ``Host: testserver`` besides any host given, which
would make every request a two-host request; the middleware must see exactly the Host
header a real server passes on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.asgi import get_asgi_application

_application = None


@dataclass
class AsgiResponse:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def asgi_get(path: str, host: str, query: str = "") -> AsgiResponse:
    global _application  # noqa: PLW0603 - built once per test process
    if _application is None:
        _application = get_asgi_application()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": [(b"host", host.encode("latin-1"))],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    finished = asyncio.Event()
    messages: list[Mapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Like a real client, disconnect only once the response is complete: Django
        # abandons a request whose client went away.
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            finished.set()

    await _application(scope, receive, send)
    starts = [m for m in messages if m["type"] == "http.response.start"]
    if len(starts) != 1:
        raise AssertionError(f"the application sent no single response start: {messages}")
    status = starts[0]["status"]
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return AsgiResponse(status, body)
