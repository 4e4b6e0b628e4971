"""Django validators for tenant ids, schema names and domains.

They wrap the one identifier rule of :func:`omnitenant_context.check_identifier` and the
host rule of :func:`omnitenant_resolvers.normalize_host`, so a form, the admin and the
model's ``save()`` all refuse the same names for the same reasons.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from omnitenant_backends.conf import backend_settings
from omnitenant_context import InvalidHost, InvalidIdentifier, check_identifier
from omnitenant_resolvers import normalize_host

__all__ = ["validate_domain", "validate_schema_name", "validate_tenant_id"]


def validate_tenant_id(value: object) -> None:
    """Refuse a tenant id that breaks the identifier rule (``acme``, ``tenant_42``)."""
    try:
        check_identifier(value, what="tenant id")
    except InvalidIdentifier as exc:
        raise ValidationError(str(exc), code="invalid_tenant_id") from exc


def validate_schema_name(value: object) -> None:
    """Refuse a schema name that breaks the rule or names a shared schema."""
    try:
        name = check_identifier(value, what="schema name")
    except InvalidIdentifier as exc:
        raise ValidationError(str(exc), code="invalid_schema_name") from exc
    conf = backend_settings()
    if name in {conf.public_schema, "information_schema", conf.schema_template}:
        raise ValidationError(
            f"The schema name {name!r} is reserved for shared use; choose another.",
            code="reserved_schema_name",
        )


def validate_domain(value: object) -> None:
    """Refuse a value that is not a host name (with or without a port)."""
    try:
        normalize_host(value)  # type: ignore[arg-type]  # non-strings are refused inside
    except InvalidHost as exc:
        raise ValidationError(str(exc), code="invalid_domain") from exc
