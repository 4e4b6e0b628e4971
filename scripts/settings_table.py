"""Write or check the tables of ``docs/configuration.md`` from the settings declarations.

    python scripts/settings_table.py          # exit 1 and say so when the page differs
    python scripts/settings_table.py --write  # rewrite the generated part of the page

The generated part sits between the ``<!-- settings-table`` marker line and
``<!-- settings-table:end -->``; everything else on the page is written by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import django_omnitenant.conf  # noqa: F401 - importing declares the Django app's keys
from omnitenant_backends.config import settings_table

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
_START = "<!-- settings-table"
_END = "<!-- settings-table:end -->"


def render(page: str) -> str:
    """``page`` with its generated part replaced by the tables of the current declarations."""
    start = page.index(_START)
    body_start = page.index("\n", start) + 1
    end = page.index(_END)
    return page[:body_start] + "\n" + settings_table() + "\n" + page[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the page")
    args = parser.parse_args(argv)
    page = PAGE.read_text(encoding="utf-8")
    wanted = render(page)
    if args.write:
        PAGE.write_text(wanted, encoding="utf-8")
        return 0
    if wanted != page:
        print(f"{PAGE} differs from the settings declarations; run with --write.")  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
