"""Progress of long commands: a bar on a terminal, nothing that pollutes pipes and logs.

A bar is a single line redrawn with ``\\r``: on a terminal it shows where a long run is;
in a log file or a pipe it would be noise, so ``auto`` draws it only when the command's
output is a terminal. Commands that report (``--format json``) draw none.
"""

from __future__ import annotations

import sys
from typing import Any, Final, TextIO

__all__ = ["PROGRESS_CHOICES", "ProgressBar", "is_terminal"]

#: The values of a command's ``--progress`` option.
PROGRESS_CHOICES: Final = ("auto", "bar", "none")

_WIDTH: Final = 30


def is_terminal(out: Any) -> bool:
    """Whether a command's ``self.stdout`` (Django's ``OutputWrapper``) is a terminal."""
    stream: TextIO = getattr(out, "_out", sys.stdout)
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


class ProgressBar:
    """``[#####     ] done/total  note`` redrawn in place; ``close()`` ends the line."""

    def __init__(self, out: Any, total: int, label: str = "") -> None:
        self.out = out
        self.total = max(total, 1)
        self.label = f"{label} " if label else ""
        self.drawn = False

    def update(self, done: int, note: str = "") -> None:
        filled = min(_WIDTH, int(_WIDTH * done / self.total))
        extra = f"  {note}" if note else ""
        self.out.write(
            f"\r{self.label}[{'#' * filled}{' ' * (_WIDTH - filled)}] {done}/{self.total}{extra}",
            ending="",
        )
        self.out.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.out.write("")
            self.drawn = False
