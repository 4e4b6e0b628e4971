"""A small Wagtail project on omnitenant: the acceptance suite of issue 11.

Run with ``./dev hatch run wagtail:test`` (its own hatch env: Python 3.11, Django 5.2, a
pinned Wagtail); the main test matrix never collects it (see ``tests/conftest.py``).
"""
