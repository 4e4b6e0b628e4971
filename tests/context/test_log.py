"""TenantLogFilter puts the tenant of the code that logs on every record."""

from __future__ import annotations

import asyncio
import io
import logging
import logging.config
import threading
from collections.abc import Iterator

import pytest

from omnitenant_context import TenantContext
from omnitenant_context.log import TenantLogFilter
from tests.support import plain_tenant

ACME = plain_tenant("acme")
GLOBEX = plain_tenant("globex")


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """The ``LOGGING`` dict of the docs, on a parent logger, with a child propagating."""
    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"tenant": {"()": "omnitenant_context.log.TenantLogFilter"}},
            "formatters": {"plain": {"format": "[%(tenant)s] %(message)s"}},
            "handlers": {
                "memory": {
                    "class": "logging.StreamHandler",
                    "stream": stream,
                    "filters": ["tenant"],
                    "formatter": "plain",
                }
            },
            "loggers": {"omnitenant_log_test": {"handlers": ["memory"], "level": "INFO"}},
        }
    )
    yield stream
    parent = logging.getLogger("omnitenant_log_test")
    for handler in list(parent.handlers):
        parent.removeHandler(handler)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_every_record_names_the_active_tenant(output: io.StringIO) -> None:
    log = logging.getLogger("omnitenant_log_test.child")  # propagates to the handler
    log.info("outside")
    with TenantContext.use_tenant(ACME):
        log.info("inside")
        with TenantContext.use_master_db():
            log.info("master")
        with TenantContext.use_tenant(GLOBEX):
            log.info("nested")
        log.info("explicit", extra={"tenant": "given"})
    assert lines(output) == [
        "[-] outside",
        "[acme] inside",
        "[master] master",
        "[globex] nested",
        "[given] explicit",
    ]


def test_threads_and_tasks_log_their_own_tenant(output: io.StringIO) -> None:
    log = logging.getLogger("omnitenant_log_test")
    barrier = threading.Barrier(2)

    def work(tenant_id: str) -> None:
        with TenantContext.use_tenant(plain_tenant(tenant_id)):
            barrier.wait()  # both threads are inside their tenant at once
            log.info(tenant_id)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    async def task(tenant_id: str) -> None:
        with TenantContext.use_tenant(plain_tenant(tenant_id)):
            await asyncio.sleep(0)  # the other task runs in between
            log.info(tenant_id)

    async def both() -> None:
        await asyncio.gather(task("three"), task("four"))

    asyncio.run(both())
    assert sorted(lines(output)) == ["[four] four", "[one] one", "[three] three", "[two] two"]


def test_the_placeholder_for_no_tenant_is_configurable() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    assert TenantLogFilter(none="public").filter(record) is True
    assert record.__dict__["tenant"] == "public"
