"""Every annotation of the context package resolves at run time: no cycle hides a name.

``typing.get_type_hints`` evaluates the (string) annotations in the module that defines
them; a name imported only under ``TYPE_CHECKING`` (the old way around an import cycle)
makes it fail, and with it every tool that reads hints at run time (documentation,
serialisers, dependency injection).
"""

from __future__ import annotations

import inspect
import typing

import pytest

import omnitenant_context
from omnitenant_context import ContextListener, ContextState, Tenant


def test_a_listener_hook_names_the_state() -> None:
    hints = typing.get_type_hints(ContextListener.context_changed)
    assert hints == {"previous": ContextState, "current": ContextState, "return": type(None)}


def test_the_state_names_the_tenant() -> None:
    assert typing.get_type_hints(ContextState)["tenant"] == Tenant | None


_CLASSES = [
    name
    for name, value in vars(omnitenant_context).items()
    if name in omnitenant_context.__all__ and inspect.isclass(value)
]


@pytest.mark.parametrize("name", _CLASSES)
def test_every_public_class_has_resolvable_hints(name: str) -> None:
    cls = getattr(omnitenant_context, name)
    typing.get_type_hints(cls)
    for _, member in inspect.getmembers(cls, inspect.isfunction):
        typing.get_type_hints(member)
