"""The request benchmark's ``notes`` 0001, unchanged (a module override replaces all)."""

from __future__ import annotations

from importlib import import_module

Migration = import_module("reqbench.notes.migrations.0001_initial").Migration
