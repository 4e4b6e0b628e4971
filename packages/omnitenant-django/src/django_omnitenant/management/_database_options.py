"""The options that describe a database tenant's database, shared by the commands that
make one (``createtenant``, ``movetenant``, ``loadtenant``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final

from django.core.management.base import CommandError, CommandParser

__all__ = ["DATABASE_OPTIONS", "ENGINES", "add_database_arguments", "database_config"]

#: The options of database tenants, by their ``options`` key.
DATABASE_OPTIONS: Final = (
    "db_engine",
    "db_name",
    "db_host",
    "db_port",
    "db_user",
    "db_password_env",
)
ENGINES: Final = {
    "postgresql": "django.db.backends.postgresql",
    "sqlite": "django.db.backends.sqlite3",
}


def add_database_arguments(parser: CommandParser) -> None:
    """Add ``--db-engine``, ``--db-name``, ``--db-host``, ``--db-port``, ``--db-user`` and
    ``--db-password-env``."""
    parser.add_argument(
        "--db-engine",
        choices=sorted(ENGINES),
        help="Database tenants: 'sqlite' (a file per tenant, default) or 'postgresql'.",
    )
    parser.add_argument(
        "--db-name",
        help="Database tenants: the database (PostgreSQL) or file path (SQLite).",
    )
    parser.add_argument("--db-host", help="Database tenants: the PostgreSQL host.")
    parser.add_argument("--db-port", help="Database tenants: the PostgreSQL port.")
    parser.add_argument("--db-user", help="Database tenants: the PostgreSQL user.")
    parser.add_argument(
        "--db-password-env",
        metavar="VARIABLE",
        help="Database tenants: read the password from this environment variable. "
        "There is deliberately no --db-password: the command line is visible to "
        "every user of the machine. Interactively the password is asked hidden.",
    )


def _no_prompt(key: str, label: str) -> str:
    return ""


def database_config(
    options: dict[str, Any],
    *,
    ask_value: Callable[[str, str], str] = _no_prompt,
    ask_password: Callable[[], str] = str,
) -> dict[str, Any]:
    """The ``database_config`` the options describe; ``ask_*`` fill in what is missing."""
    engine_key = options["db_engine"] or (
        ask_value("db_engine", "Database engine (sqlite/postgresql)") or "sqlite"
    )
    if engine_key not in ENGINES:
        raise CommandError(f"Unknown database engine {engine_key!r}: use sqlite or postgresql.")
    config: dict[str, Any] = {"ENGINE": ENGINES[engine_key]}
    if options["db_name"]:
        config["NAME"] = options["db_name"]
    if engine_key == "postgresql":
        for key in ("host", "port", "user"):
            value = options[f"db_{key}"] or ask_value(f"db_{key}", f"Database {key}")
            if value:
                config[key.upper()] = value
        variable = options["db_password_env"]
        if variable:
            if variable not in os.environ:
                raise CommandError(f"The environment variable {variable!r} is not set.")
            password = os.environ[variable]
        else:
            password = ask_password()
        if password:
            config["PASSWORD"] = password
    return config
