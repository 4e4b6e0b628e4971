"""The one identifier rule for tenant ids, schema names and database names."""

from __future__ import annotations

import re
from typing import Final

from omnitenant_context.exceptions import InvalidIdentifier

#: PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1). The
#: rule allows ASCII only, so characters and bytes agree.
MAX_IDENTIFIER_LENGTH: Final = 63

# ``fullmatch`` and not ``match(...$)``: ``$`` also matches before a trailing newline,
# which would let "acme\n" through.
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")

#: Key words that PostgreSQL reserves (reserved, and reserved "can be function or type")
#: in its SQL key word table. They are legal once quoted, but a name that only works
#: quoted breaks every hand-written query and tool an operator points at it.
RESERVED_WORDS: Final = frozenset(
    """
    all analyse analyze and any array as asc asymmetric authorization binary both case
    cast check collate collation column concurrently constraint create cross
    current_catalog current_date current_role current_schema current_time
    current_timestamp current_user default deferrable desc distinct do else end except
    false fetch for foreign freeze from full grant group having ilike in initially inner
    intersect into is isnull join lateral leading left like limit localtime
    localtimestamp natural not notnull null offset on only or order outer overlaps
    placing primary references returning right select session_user similar some
    symmetric system_user table tablesample then to trailing true union unique user
    using variadic verbose when where window with
    """.split()  # noqa: SIM905 - a word list reads best as prose
)


def check_identifier(name: object, *, what: str = "identifier") -> str:
    """Return ``name`` if it is a safe PostgreSQL identifier, else raise.

    The rule, applied to tenant ids, schema names and database names alike:

    * a ``str`` of 1 to 63 characters;
    * lower-case ASCII letters, digits and ``_``, not starting with a digit;
    * not starting with ``pg_`` (PostgreSQL reserves that prefix for system schemas);
    * not a reserved SQL key word such as ``select`` or ``user``.

    Names that pass are still quoted whenever they reach SQL; the rule exists so that a
    name means the same thing everywhere (in SQL, in a file name, in a cache key, in a
    host) and so that a hostile name is refused before anything is created.

    Args:
        name: The candidate name. Anything that is not a ``str`` is refused.
        what: How to call the name in the error message, for example ``"schema name"``.

    Returns:
        The name, unchanged.

    Raises:
        InvalidIdentifier: The name breaks the rule; the message says which part.
    """
    if not isinstance(name, str):
        raise InvalidIdentifier(f"The {what} must be a string, not {type(name).__name__}.")
    if not name:
        raise InvalidIdentifier(f"The {what} must not be empty.")
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise InvalidIdentifier(
            f"The {what} {name[:20]!r}... is {len(name)} characters long; "
            f"at most {MAX_IDENTIFIER_LENGTH} are allowed."
        )
    if _IDENTIFIER.fullmatch(name) is None:
        raise InvalidIdentifier(
            f"The {what} {name!r} may contain only lower-case letters a-z, digits and "
            "'_', and must not start with a digit."
        )
    if name.startswith("pg_"):
        raise InvalidIdentifier(
            f"The {what} {name!r} starts with 'pg_', which PostgreSQL reserves for system schemas."
        )
    if name in RESERVED_WORDS:
        raise InvalidIdentifier(f"The {what} {name!r} is a reserved SQL key word.")
    return name


def is_valid_identifier(name: object) -> bool:
    """Tell whether ``name`` passes :func:`check_identifier`, without raising."""
    try:
        check_identifier(name)
    except InvalidIdentifier:
        return False
    return True
