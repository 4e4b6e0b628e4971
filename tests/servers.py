"""Servers a test starts itself (moto's S3, an ASGI server), on a free loopback port.

Each is a child process of the test, stopped by its own pid when the test is done, and
reported with its output when it does not come up.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
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
    port: int,
    env: dict[str, str] | None = None,
    startup_timeout: float = 30.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv``, wait until it accepts connections on ``port``, stop it after."""
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
            while True:
                if process.poll() is not None:
                    output.seek(0)
                    raise RuntimeError(
                        f"{argv[0]} exited with {process.returncode}:\n{output.read().decode()}"
                    )
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        output.seek(0)
                        raise RuntimeError(
                            f"{argv[0]} did not listen on {port}:\n{output.read().decode()}"
                        ) from None
                    time.sleep(0.1)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
