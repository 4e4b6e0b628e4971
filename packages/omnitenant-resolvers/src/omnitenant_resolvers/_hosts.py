"""Host normalisation: one canonical spelling for every way a client can write a host."""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Final

import idna

from omnitenant_context import InvalidHost

__all__ = ["MAX_HOST_LENGTH", "normalize_host", "normalize_host_cached"]

#: The longest host name DNS allows, without the trailing dot.
MAX_HOST_LENGTH: Final = 253
# Anything longer than this is refused before any parsing work is done.
_MAX_RAW_LENGTH: Final = 1024
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PORT = re.compile(r"[0-9]{1,5}")


def normalize_host(host: str) -> str:
    """Return the canonical form of ``host``, as stored in domain records.

    Lower-cases, removes the port and one trailing dot, encodes international names as
    browsers do (UTS #46 mapping, IDNA 2008, non-transitional: ``bücher.example`` becomes
    ``xn--bcher-kva.example`` and ``straße.example`` ``xn--strae-oqa.example``, not the
    IDNA 2003 ``strasse.example``, which may be somebody else's) and checks the result is a
    DNS name (labels of 1-63 letters, digits and inner hyphens; 253 characters at most),
    an IPv4 address or a bracketed IPv6 address.

    Raises:
        InvalidHost: ``host`` is not a valid host, with or without a port.
    """
    if not isinstance(host, str):
        raise InvalidHost(f"A host must be a string, not {type(host).__name__}.")
    if not host or len(host) > _MAX_RAW_LENGTH:
        raise InvalidHost("The host is empty or too long.")
    name, port = _split_port(host)
    if port is not None and (_PORT.fullmatch(port) is None or not 0 < int(port) < 65536):
        raise InvalidHost(f"The host {host[:80]!r} has an invalid port.")
    if name.startswith("["):
        return _ipv6(name, host)
    name = name.lower()
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii():
        name = _idna(name, host)
    if not name or len(name) > MAX_HOST_LENGTH:
        raise InvalidHost(f"The host {host[:80]!r} is empty or longer than 253 characters.")
    if all(_LABEL.fullmatch(label) is not None for label in name.split(".")):
        return name
    raise InvalidHost(f"The host {host[:80]!r} is not a valid host name.")


def _split_port(host: str) -> tuple[str, str | None]:
    if host.startswith("["):
        end = host.find("]")
        if end == -1:
            raise InvalidHost("The host has an unclosed '['.")
        rest = host[end + 1 :]
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise InvalidHost("Unexpected characters after an IPv6 address.")
        return host[: end + 1], rest[1:]
    name, colon, port = host.rpartition(":")
    if not colon:
        return host, None
    return name, port


def _ipv6(name: str, original: str) -> str:
    try:
        address = ipaddress.IPv6Address(name[1:-1])
    except ValueError:
        raise InvalidHost(f"The host {original[:80]!r} is not a valid IPv6 address.") from None
    return f"[{address.compressed}]"


def _idna(name: str, original: str) -> str:
    # Python's own "idna" codec is IDNA 2003: it maps "ß" to "ss", so a host a browser
    # sends as xn--strae-oqa would be stored as strasse, a different (maybe taken) name.
    try:
        return idna.encode(name, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise InvalidHost(
            f"The host {original[:80]!r} is not a valid international name."
        ) from None


#: :func:`normalize_host` behind an LRU cache, for the request path: hosts repeat from
#: request to request. Failures are not cached (``lru_cache`` keeps no exceptions), so
#: hostile hosts cannot fill it for free; the bound keeps a flood of hosts in check.
normalize_host_cached = functools.lru_cache(maxsize=4096)(normalize_host)
