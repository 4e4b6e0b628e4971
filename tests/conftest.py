"""Session-wide test set-up: which real services this machine offers.

Tests that need PostgreSQL, Redis or RabbitMQ carry the matching marker. When the service
is not reachable they are skipped, except under ``OMNITENANT_REQUIRE_SERVICES=1`` (set by
CI), where a missing service fails every such test instead of hiding it.
"""

from __future__ import annotations

import os
import socket
from functools import cache

import pytest

SERVICES: dict[str, tuple[str, int]] = {
    "postgres": (os.environ.get("OMNITENANT_PGHOST", "127.0.0.1"), 5432),
    "redis": ("127.0.0.1", 6379),
    "rabbitmq": ("127.0.0.1", 5672),
}


def services_required() -> bool:
    return os.environ.get("OMNITENANT_REQUIRE_SERVICES", "") not in ("", "0")


@cache
def service_available(name: str) -> bool:
    host, port = SERVICES[name]
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def pytest_report_header(config: pytest.Config) -> list[str]:
    found = [f"{name}={'up' if service_available(name) else 'DOWN'}" for name in SERVICES]
    mode = "required" if services_required() else "optional (missing ones skip)"
    import django

    return [
        f"omnitenant services: {', '.join(found)}; services {mode}",
        f"django {django.get_version()}",
    ]


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name, (host, port) in SERVICES.items():
        if item.get_closest_marker(name) is None or service_available(name):
            continue
        message = f"{name} is not reachable at {host}:{port}"
        if services_required():
            pytest.fail(f"{message} and OMNITENANT_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)
