"""A second PostgreSQL 15 cluster of the test run's own, for placement across servers.

``initdb`` into a temporary directory (as the ``postgres`` OS user when the tests run as
root: PostgreSQL refuses to run as root), trust authentication on 127.0.0.1 only, a free
port, started with ``pg_ctl`` and stopped with ``pg_ctl stop`` on its own data directory
(so by its own postmaster pid) at the end. Made for speed, not durability: ``fsync``,
``full_page_writes`` and ``synchronous_commit`` are off, ``shared_buffers`` is small.

The binaries come with Debian's ``postgresql-15`` package (``/usr/lib/postgresql/15/bin``),
installed with the server the suite needs anyway. A data directory is named after the
run (``omnitenant-pg2-<run>``): a run that was killed leaves one, and the next run that
finds it with its owning process gone stops that postmaster and removes it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import psycopg

from tests.servers import free_port

__all__ = ["BIN_DIR", "SecondCluster", "remove_abandoned_clusters"]

BIN_DIR = Path(os.environ.get("OMNITENANT_PG_BIN", "/usr/lib/postgresql/15/bin"))
_PREFIX = "omnitenant-pg2-"
_OWNER = re.compile(r"^omnitenant-pg2-py\d+_(\d+)-")
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "shared_buffers": "16MB",
    "max_connections": "60",
    "max_wal_size": "256MB",
    "log_min_messages": "warning",
    "logging_collector": "off",
}


def _as_postgres_user(argv: Sequence[str]) -> list[str]:
    """``argv`` run as the ``postgres`` OS user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return list(argv)
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *argv]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(argv)]


def _run(argv: Sequence[str], *, timeout: float = 120.0) -> None:
    done = subprocess.run(
        _as_postgres_user(argv), capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{Path(argv[0]).name} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )


class SecondCluster:
    """One running PostgreSQL cluster on 127.0.0.1, its data in a temporary directory.

    ``settings`` adds to or overrides the ``postgresql.conf`` lines above (the benches
    give a pinned cluster more shared buffers and connections). ``wrapper`` is a command
    the server runs under (``bench/requests/instructions.py`` runs it under callgrind;
    it then starts slowly, so the start waits longer).
    """

    def __init__(
        self,
        run: str,
        settings: dict[str, str] | None = None,
        wrapper: Sequence[str] = (),
    ) -> None:
        for binary in ("initdb", "pg_ctl"):
            if not (BIN_DIR / binary).exists():
                raise RuntimeError(
                    f"{BIN_DIR / binary} is missing: install Debian's postgresql-15 package."
                )
        self.directory = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{run}-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.user = "postgres"
        self._settings = {**_SETTINGS, **(settings or {})}
        self._wrapper = tuple(wrapper)
        self._started = False
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.directory, postgres.pw_uid, postgres.pw_gid)
        try:
            self._init_and_start()
        except BaseException:
            self.stop()
            raise

    def _init_and_start(self) -> None:
        _run(
            [
                str(BIN_DIR / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        settings = {**self._settings, "port": str(self.port), "unix_socket_directories": "''"}
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        (self.data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        self._start()
        self._started = True

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection to ``dbname`` on this cluster."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname=dbname, autocommit=True
        )

    def create_database(self, name: str) -> None:
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')

    def database_settings(self, name: str) -> dict[str, object]:
        """A ``DATABASES`` entry for database ``name`` on this cluster (omnitenant's engine)."""
        return {
            "ENGINE": "omnitenant_backends.postgresql",
            "NAME": name,
            "HOST": "127.0.0.1",
            "PORT": self.port,
            "USER": self.user,
        }

    def pid(self) -> int | None:
        """The postmaster's pid, from its own ``postmaster.pid``; ``None`` when it is down."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pause(self) -> None:
        """Stop the server (a server that is down), keeping its data for :meth:`resume`."""
        _run([str(BIN_DIR / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def resume(self) -> None:
        """Start the server again after :meth:`pause`."""
        self._start()

    def _start(self) -> None:
        """Start the server on its data directory and wait until it accepts connections."""
        executable = []
        if self._wrapper:
            # pg_ctl starts the executable its -p names with the server's arguments.
            script = self.directory / "postgres-wrapped"
            command = [*self._wrapper, str(BIN_DIR / "postgres")]
            script.write_text(f'#!/bin/sh\nexec {shlex.join(command)} "$@"\n')
            script.chmod(0o755)
            executable = ["-p", str(script)]
        _run(
            [
                str(BIN_DIR / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.directory / "server.log"),
                *executable,
                "-w",
                "-t",
                "300" if self._wrapper else "60",
                "start",
            ],
            timeout=330.0,
        )

    def stop(self) -> None:
        """Stop the server (by its data directory) and remove its files."""
        if self._started and self.pid() is not None:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run([str(BIN_DIR / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(self.directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned_clusters() -> None:
    """Stop and remove the clusters of runs whose process is gone (killed runs)."""
    for directory in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        match = _OWNER.match(directory.name)
        if match is None or _alive(int(match.group(1))):
            continue
        data = directory / "data"
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run([str(BIN_DIR / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(directory, ignore_errors=True)
