"""Host normalisation: one spelling per host, and a clean refusal of non-hosts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnitenant_context import InvalidHost
from omnitenant_resolvers import normalize_host


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("acme.example.com", "acme.example.com"),
        ("ACME.Example.Com", "acme.example.com"),
        ("acme.example.com:8000", "acme.example.com"),
        ("acme.example.com.", "acme.example.com"),
        ("acme.example.com.:443", "acme.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        # UTS #46 / IDNA 2008 as browsers send it; IDNA 2003 would give strasse.example.
        ("straße.example.com", "xn--strae-oqa.example.com"),
        ("STRASSE.example.com", "strasse.example.com"),
        ("Bücher.Example", "xn--bcher-kva.example"),
        ("ﬁsh.example", "fish.example"),
        ("localhost", "localhost"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "[::1]"),
        ("[2001:DB8::0:1]", "[2001:db8::1]"),
    ],
)
def test_normal_forms(raw: str, normalised: str) -> None:
    assert normalize_host(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        ".",
        "a..b",
        "-acme.com",
        "acme-.com",
        "acme_corp.com",
        "ac me.com",
        "acme.com:",
        "acme.com:0",
        "acme.com:65536",
        "acme.com:80:80",
        "acme.com/evil",
        "acme.com\n",
        "[::1",
        "[::zz]",
        "[::1]x",
        "a" * 64 + ".com",
        ".".join(["a" * 60] * 5),
        "x" * 5000,
        "acme.com\x00.evil",
        "user@acme.com",
    ],
)
def test_malformed_hosts_are_refused(raw: str) -> None:
    with pytest.raises(InvalidHost):
        normalize_host(raw)


def test_non_strings_are_refused() -> None:
    with pytest.raises(InvalidHost, match="must be a string"):
        normalize_host(b"acme.com")  # type: ignore[arg-type]  # refusing bytes is the point


@given(st.text(max_size=300))
def test_any_text_is_normalised_or_refused_and_normal_forms_are_stable(raw: str) -> None:
    try:
        host = normalize_host(raw)
    except InvalidHost:
        return
    assert host == host.lower()
    assert host.isascii()
    assert len(host) <= 253 or host.startswith("[")
    assert normalize_host(host) == host
