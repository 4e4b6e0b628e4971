#!/usr/bin/env python
"""manage.py of the test project (tests run commands through it as a user would)."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # Python puts this file's folder first on sys.path; there, tests/django would shadow
    # the django package. The project root goes there instead.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
