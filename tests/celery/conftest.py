"""A real Celery worker for the session: ``celery worker --pool=solo`` on Redis.

The worker is a child process on this session's test database (``OMNITENANT_TEST_DATABASE``)
and its own queue. It reads tenant changes through the shared Redis cache, as a worker of a
real deployment must, so the tests that use it switch this process to the same cache.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class LiveWorker:
    """The running worker: its process id (solo pool: tasks run in it) and its log file."""

    pid: int
    nodename: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _ping(app: Any, nodename: str) -> bool:
    replies = app.control.ping(destination=[nodename], timeout=0.5)
    return any(nodename in reply for reply in replies)


@pytest.fixture(scope="session")
def live_worker(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveWorker]:
    """Start the worker once per session; stop it before the test database is dropped."""
    from tests.celery.celery_app import QUEUE, app

    nodename = f"omnitenant-{uuid.uuid4().hex[:8]}@localhost"
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "OMNITENANT_TEST_DATABASE": connections["default"].settings_dict["NAME"],
        "OMNITENANT_TEST_TENANT_CACHE": "shared",
        "OMNITENANT_CELERY_QUEUE": QUEUE,
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "tests.celery.celery_app", "worker",
        "--pool=solo", "--loglevel=INFO", "-n", nodename, "-Q", QUEUE, f"--logfile={log_path}",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    # Output goes to files, never to a pipe nobody reads (a full pipe blocks the worker).
    stderr_path = log_path.with_name("worker.stderr")
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command, env=environ, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr
        )
    worker = LiveWorker(pid=process.pid, nodename=nodename, log_path=log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _ping(app, nodename):
            if process.poll() is not None:
                stderr_text = stderr_path.read_text(errors="replace")
                pytest.fail(f"the Celery worker exited at start:\n{stderr_text}\n{worker.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not answer within {START_TIMEOUT} s:\n"
                            f"{worker.log()}")  # fmt: skip
        yield worker
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # Messages a failed test left behind (countdowns not yet due) go with the queue.
        app.control.purge()


@pytest.fixture
def shared_tenant_cache() -> Iterator[None]:
    """Send tenant changes through the Redis cache the worker watches."""
    config = {**settings.OMNITENANT_CONFIG, "TENANT_CACHE_ALIAS": "shared"}
    with override_settings(OMNITENANT_CONFIG=config):
        yield
