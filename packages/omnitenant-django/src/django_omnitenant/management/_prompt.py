"""Prompts of the interactive commands, and the usage errors they share.

A command that would prompt while standard input is not a terminal (a pipe, a cron job,
CI) stops with a usage error (exit status 2) that says to pass ``--noinput``, instead of
hanging or dying with ``EOFError``.
"""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import CommandError

__all__ = ["USAGE_ERROR", "ask", "stdin_is_terminal", "usage_error"]

#: The exit status of a command given options it cannot work with (as argparse's).
USAGE_ERROR = 2


def usage_error(message: str) -> CommandError:
    """A ``CommandError`` that exits with status 2, as argparse does for bad options."""
    return CommandError(message, returncode=USAGE_ERROR)


def stdin_is_terminal() -> bool:
    """Tell whether someone can answer a prompt."""
    stdin = sys.stdin
    return stdin is not None and not stdin.closed and stdin.isatty()


def ask(question: str, *, secret: bool = False) -> str:
    """Prompt on the terminal; a usage error when there is no terminal to answer."""
    if not stdin_is_terminal():
        raise usage_error(
            f"Cannot ask {question.strip().rstrip(':')!r}: standard input is not a terminal. "
            "Pass --noinput (and the values as options) to run without prompts."
        )
    try:
        return getpass.getpass(question) if secret else input(question)
    except EOFError:
        raise usage_error(
            "Standard input closed before an answer was given; pass --noinput to run "
            "without prompts."
        ) from None
