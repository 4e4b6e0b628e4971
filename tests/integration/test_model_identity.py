"""Instances of two tenants with the same pk are equal: the trap, and the helper.

omnitenant keeps Django's ``__eq__``/``__hash__`` (model + pk); a per-process cache keyed
on an instance must carry the tenant, which ``tenant_lru_cache`` does.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from django_omnitenant.memo import tenant_lru_cache
from omnitenant_context import TenantContext
from tests.tenantapp.models import Note

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("live_db")]


def load(tenant: Any) -> Note:
    with TenantContext.use_tenant(tenant):
        return Note.objects.get()


def test_instances_of_two_tenants_are_equal_by_djangos_rules(
    tenant_pair: tuple[Any, Any],
) -> None:
    a, b = tenant_pair
    assert load(a) == load(b)  # the trap documented in docs/isolation.md
    assert hash(load(a)) == hash(load(b))


def test_plain_lru_cache_leaks_and_tenant_lru_cache_does_not(
    tenant_pair: tuple[Any, Any],
) -> None:
    a, b = tenant_pair
    calls: list[str] = []

    def text_of(note: Note) -> str:
        calls.append(note.text)
        return note.text.upper()

    plain = functools.lru_cache(maxsize=8)(text_of)
    bound = tenant_lru_cache(maxsize=8)(text_of)
    for tenant in (a, b):
        with TenantContext.use_tenant(tenant):
            note = Note.objects.get()
            assert plain(note) == "NOTE OF PAIR_A"  # b gets a's answer: the leak
            assert bound(note) == f"NOTE OF {tenant.tenant_id.upper()}"
            assert bound(note) == f"NOTE OF {tenant.tenant_id.upper()}"  # cached
    assert bound.cache_info().hits == 2
    bound.cache_clear()
    assert bound.cache_info().currsize == 0
