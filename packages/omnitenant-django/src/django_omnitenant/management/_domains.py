"""The domains a command is given for a new tenant, checked before anything is made."""

from __future__ import annotations

from django.core.management.base import CommandError

from django_omnitenant.utils import get_domain_model
from omnitenant_context import InvalidHost, TenantContext
from omnitenant_resolvers import normalize_host

__all__ = ["free_domains"]


def free_domains(hosts: list[str]) -> list[str]:
    """``hosts`` normalised, in order; a bad, repeated or taken host is a ``CommandError``."""
    domains: list[str] = []
    for host in hosts:
        try:
            normalised = normalize_host(host)
        except InvalidHost as exc:
            raise CommandError(str(exc)) from exc
        if normalised in domains:
            raise CommandError(f"The domain {normalised!r} is given twice.")
        domains.append(normalised)
    with TenantContext.use_master_db():
        taken = list(
            get_domain_model()
            .objects.filter(domain__in=domains)
            .values_list("domain", "tenant__tenant_id")
        )
    if taken:
        owners = ", ".join(f"{host} (tenant {owner!r})" for host, owner in taken)
        raise CommandError(f"These domains belong to another tenant already: {owners}.")
    return domains
