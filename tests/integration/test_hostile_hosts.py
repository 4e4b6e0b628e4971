"""Arbitrary Host headers: every answer is 200, 400 or 404, and never another tenant."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnitenant_context import InvalidHost
from omnitenant_resolvers import normalize_host
from tests.integration.test_request_flow import TENANT_COUNT, tenants  # noqa: F401 - fixture

pytestmark = pytest.mark.postgres

_tenant_hosts = [f"web-{index}.example.test" for index in range(TENANT_COUNT)]


@st.composite
def mutated_tenant_host(draw: st.DrawFn) -> str:
    host = draw(st.sampled_from([*_tenant_hosts, "example.test"]))
    if draw(st.booleans()):
        host = "".join(c.upper() if draw(st.booleans()) else c for c in host)
    if draw(st.booleans()):
        host += "."
    if draw(st.booleans()):
        host += f":{draw(st.integers(min_value=-5, max_value=70000))}"
    if draw(st.booleans()):
        position = draw(st.integers(min_value=0, max_value=len(host)))
        host = host[:position] + draw(st.text(max_size=3)) + host[position:]
    return host


hosts = st.one_of(
    mutated_tenant_host(),
    st.text(max_size=80),
    st.from_regex(r"[a-z0-9.\-:\[\]_]{0,40}", fullmatch=True),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(host=hosts)
def test_any_host_gets_a_clean_answer_and_only_its_own_tenant(
    tenants: list[Any],  # noqa: F811 - the fixture imported above
    host: str,
) -> None:
    response = Client().get("/whoami/", HTTP_HOST=host)
    assert response.status_code in (200, 400, 404), (host, response.status_code)
    if response.status_code != 200:
        return
    resolved = response.json()["tenant"]
    try:
        named = normalize_host(host)
    except InvalidHost:
        pytest.fail(f"{host!r} is not a host, yet it was served")
    if resolved is None:
        assert named == "example.test"
    else:
        assert named == f"{resolved.replace('_', '-')}.example.test"
