"""Servers a test starts itself (moto's S3, an ASGI server, a private Redis).

Each is a child process of the test, stopped by its own pid when the test is done, and
reported with its output when it does not come up.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(
    argv: Sequence[str],
    port: int | None = None,
    env: dict[str, str] | None = None,
    startup_timeout: float = 30.0,
    ready: Callable[[], bool] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv``, wait until it is ready, stop it (by its pid) after.

    Ready means ``ready()`` returns true when given (a server on a Unix socket, or one
    that listens before it can answer), otherwise that it accepts connections on the
    loopback ``port``.
    """
    if ready is None:
        if port is None:
            raise TypeError("running_server needs a port or a ready() check")
        ready = _accepts_connections(port)
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while not ready():
                if process.poll() is not None:
                    output.seek(0)
                    raise RuntimeError(
                        f"{argv[0]} exited with {process.returncode}:\n{output.read().decode()}"
                    )
                if time.monotonic() > deadline:
                    output.seek(0)
                    raise RuntimeError(
                        f"{argv[0]} was not ready after {startup_timeout} s:\n"
                        f"{output.read().decode()}"
                    )
                time.sleep(0.05)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _accepts_connections(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    return check
