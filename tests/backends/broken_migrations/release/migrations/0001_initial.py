"""The app's real first migration, re-exported so this package can never drift from it."""

from importlib import import_module

Migration = import_module("tests.tenantapp.migrations.0001_initial").Migration
