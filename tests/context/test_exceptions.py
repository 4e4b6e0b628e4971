"""The exception hierarchy: one root, and the built-in bases users already catch."""

from __future__ import annotations

import pytest

import omnitenant_context
from omnitenant_context import exceptions


@pytest.mark.parametrize("name", exceptions.__all__)
def test_every_exception_derives_from_the_root(name: str) -> None:
    cls = getattr(exceptions, name)
    assert issubclass(cls, omnitenant_context.OmnitenantError)
    assert cls.__doc__, f"{name} has no docstring"
    assert getattr(omnitenant_context, name) is cls


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("TenantNotFound", LookupError),
        ("DomainNotFound", LookupError),
        ("InvalidIdentifier", ValueError),
        ("InvalidHost", ValueError),
        ("NoTenantActive", RuntimeError),
    ],
)
def test_builtin_bases(name: str, builtin: type[Exception]) -> None:
    assert issubclass(getattr(exceptions, name), builtin)


def test_every_public_name_is_documented() -> None:
    for name in omnitenant_context.__all__:
        if name.startswith("__") or name.isupper():
            continue
        assert getattr(omnitenant_context, name).__doc__, f"{name} has no docstring"
