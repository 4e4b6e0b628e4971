"""A PgBouncer of the test's own: stock Debian package, generated config, stopped by pid.

The binary comes from Debian's ``pgbouncer`` package, installed with apt-get when missing.
Each instance listens on a free 127.0.0.1 port, with its config, pid file and log in a
temporary directory. No ``ignore_startup_parameters``: the engine must work with stock
PgBouncer, which refuses the ``options`` start-up parameter.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

__all__ = ["PgBouncer", "pgbouncer_binary"]

_BINARY_PATHS = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def pgbouncer_binary() -> str | None:
    """The pgbouncer executable, installing Debian's package when it is missing."""
    found = shutil.which("pgbouncer") or next((p for p in _BINARY_PATHS if os.path.exists(p)), None)
    if found or shutil.which("apt-get") is None or os.geteuid() != 0:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "pgbouncer"]
    for attempt in range(30):
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode == 0:
            break
        # A missing package list (fresh machine) or another apt holding the lock.
        if attempt == 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        time.sleep(2)
    return shutil.which("pgbouncer") or next((p for p in _BINARY_PATHS if os.path.exists(p)), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PgBouncer:
    """One running PgBouncer in front of the local PostgreSQL server."""

    def __init__(
        self,
        binary: str,
        *,
        pool_mode: str,
        server_port: int,
        user: str,
        pool_size: int,
        wrapper: Sequence[str] = (),
    ) -> None:
        """``wrapper``: a command PgBouncer runs under (``bench:instructions``: callgrind)."""
        self.pool_mode = pool_mode
        # Under a wrapper such as valgrind, start-up takes seconds instead of milliseconds.
        self._start_timeout = 120.0 if wrapper else 5.0
        self.user = user
        self.directory = Path(tempfile.mkdtemp(prefix=f"omnitenant-pgbouncer-{pool_mode}-"))
        self.port = _free_port()
        config = self.directory / "pgbouncer.ini"
        (self.directory / "users.txt").write_text(f'"{user}" ""\n')
        config.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host=127.0.0.1 port={server_port}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = trust",
                    f"auth_file = {self.directory / 'users.txt'}",
                    f"admin_users = {user}",
                    f"pool_mode = {pool_mode}",
                    f"default_pool_size = {pool_size}",
                    # Harsher than the default DISCARD ALL: nothing may rely on a reset.
                    "server_reset_query =",
                    f"logfile = {self.directory / 'pgbouncer.log'}",
                    f"pidfile = {self.directory / 'pgbouncer.pid'}",
                    "",
                ]
            )
        )
        # Under a wrapper (valgrind): in the foreground, and started as the unprivileged
        # user. A daemon's parent exits at once, and a process that drops root after
        # valgrind made its control pipes can no longer open them (callgrind_control).
        command = [*wrapper, binary] if wrapper else [binary, "-d"]
        #: The OS user PgBouncer runs as when not this process's (it refuses root), for
        #: tools that must act as that user (``callgrind_control``).
        self.os_user: str | None = None
        run_as: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self.os_user = "nobody"
            run_as = pwd.getpwnam(self.os_user)
            if not wrapper:
                command += ["-u", self.os_user]  # it drops to this user itself
            os.chown(self.directory, run_as.pw_uid, run_as.pw_gid)
            for path in self.directory.iterdir():
                os.chown(path, run_as.pw_uid, run_as.pw_gid)
        # Its output to a file, not a pipe: a wrapper (valgrind) keeps a descriptor of its
        # own open in the daemon, and a pipe would then never reach end-of-file.
        self._start_log = self.directory / "start.log"
        self._foreground: subprocess.Popen[bytes] | None = None
        with self._start_log.open("wb") as sink:
            if wrapper:
                self._foreground = subprocess.Popen(
                    [*command, str(config)],
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    user=None if run_as is None else run_as.pw_uid,
                    group=None if run_as is None else run_as.pw_gid,
                    extra_groups=None if run_as is None else [],
                )
            else:
                done = subprocess.run(
                    [*command, str(config)], stdout=sink, stderr=subprocess.STDOUT, check=False
                )
                if done.returncode != 0:
                    self._refuse_start(f"exit {done.returncode}")
        self.pid = self._wait_for_pid()
        self._wait_until_listening()

    def _refuse_start(self, how: str) -> None:
        output = self._start_log.read_text(errors="replace").strip()
        shutil.rmtree(self.directory, ignore_errors=True)
        raise RuntimeError(f"pgbouncer did not start ({how}): {output}")

    def _wait_for_pid(self) -> int:
        pidfile = self.directory / "pgbouncer.pid"
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if pidfile.exists() and pidfile.read_text().strip():
                return int(pidfile.read_text().strip())
            if self._foreground is not None and self._foreground.poll() is not None:
                # Exited in the foreground: say so now, not after the whole timeout.
                self._refuse_start(f"exit {self._foreground.returncode}")
            time.sleep(0.05)
        log = self.directory / "pgbouncer.log"
        raise RuntimeError(f"pgbouncer did not start: {log.read_text() if log.exists() else ''}")

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"pgbouncer is not listening on 127.0.0.1:{self.port}")

    def _admin_console(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="pgbouncer", autocommit=True
        )

    def admin(self, command: str) -> None:
        """Run one command of PgBouncer's admin console (``KILL db``, ``RESUME db``)."""
        with self._admin_console() as admin:
            admin.execute(command)

    def _show(self, what: str) -> list[dict[str, Any]]:
        """The rows of the admin console's ``SHOW <what>``, by column name."""
        with self._admin_console() as admin:
            cursor = admin.cursor()
            cursor.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def clients(self, database: str) -> int:
        """How many client connections PgBouncer holds for ``database`` (``SHOW CLIENTS``)."""
        return sum(1 for record in self._show("CLIENTS") if record["database"] == database)

    def stats(self, database: str) -> dict[str, int]:
        """PgBouncer's ``SHOW STATS`` totals for ``database`` (queries, transactions)."""
        for record in self._show("STATS"):
            if record["database"] == database:
                return {
                    key: int(value)
                    for key, value in record.items()
                    if key.startswith("total_") and value is not None
                }
        return {}

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        if self._foreground is not None:
            self._foreground.wait(timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)
