"""The identifier rule for tenant ids, schema names and database names."""

from __future__ import annotations

import pytest

from omnitenant_context import (
    InvalidIdentifier,
    OmnitenantError,
    check_identifier,
    is_valid_identifier,
)


@pytest.mark.parametrize("name", ["acme", "a", "_private", "tenant_42", "a" * 63, "x1_y2"])
def test_valid_names_pass_unchanged(name: str) -> None:
    assert check_identifier(name) == name
    assert is_valid_identifier(name)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ('x"; DROP SCHEMA public CASCADE; --', "lower-case letters"),
        ("pg_catalog", "pg_"),
        ("pg_toast", "pg_"),
        ("a" * 64, "at most 63"),
        ("Acme", "lower-case letters"),
        ("acme\n", "lower-case letters"),
        ("", "empty"),
        ("1acme", "must not start with a digit"),
        ("ac-me", "lower-case letters"),
        ("ac me", "lower-case letters"),
        ("acmé", "lower-case letters"),
        ("select", "reserved"),
        ("user", "reserved"),
        ("acme\x00", "lower-case letters"),
    ],
)
def test_hostile_and_malformed_names_are_refused(name: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        check_identifier(name, what="schema name")
    assert not is_valid_identifier(name)


def test_non_strings_are_refused() -> None:
    with pytest.raises(InvalidIdentifier, match="must be a string, not int"):
        check_identifier(42)
    assert not is_valid_identifier(None)


def test_error_is_both_an_omnitenant_error_and_a_value_error() -> None:
    with pytest.raises(ValueError, match="schema name"):
        check_identifier("Bad", what="schema name")
    assert issubclass(InvalidIdentifier, OmnitenantError)


def test_long_names_are_not_echoed_in_full() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        check_identifier("a" * 5000)
    assert len(str(info.value)) < 200
