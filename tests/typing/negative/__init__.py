"""Code that must NOT type-check; see ``tests/typing/check_negative.py``."""
