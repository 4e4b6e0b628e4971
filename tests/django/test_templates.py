"""Templates per tenant: the tenant's folder first, a cache per tenant, {{ tenant }}."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.template import Context, Engine, RequestContext, TemplateDoesNotExist
from django.test import RequestFactory, override_settings

from django_omnitenant.checks import check_configuration
from omnitenant_context import TenantContext
from tests.support import plain_tenant

ACME = plain_tenant("acme")
GLOBEX = plain_tenant("globex")

TENANT_LOADER = "django_omnitenant.loaders.TenantDirectoriesLoader"


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    tenants, project = tmp_path / "tenant_templates", tmp_path / "templates"
    (tenants / "acme").mkdir(parents=True)
    (tenants / "acme" / "page.html").write_text("acme's own page")
    (tenants / "globex").mkdir()
    (tenants / "globex" / "secret.html").write_text("globex's secret")
    project.mkdir()
    (project / "page.html").write_text("the project's page")
    return tenants, project


def engine(folders: tuple[Path, Path], cache: str) -> Engine:
    tenants, project = folders
    inner = [
        (TENANT_LOADER, [str(tenants)]),
        ("django.template.loaders.filesystem.Loader", [str(project)]),
    ]
    return Engine(loaders=[(cache, inner)])


def render(engine_: Engine, name: str) -> str:
    return engine_.get_template(name).render(Context())


def test_a_tenant_sees_its_own_template_first(folders: tuple[Path, Path]) -> None:
    templates = engine(folders, "django_omnitenant.loaders.CachedLoader")
    # Globex first: a cache keyed by name alone would now answer acme with globex's.
    with TenantContext.use_tenant(GLOBEX):
        assert render(templates, "page.html") == "the project's page"
    with TenantContext.use_tenant(ACME):
        assert render(templates, "page.html") == "acme's own page"
        assert render(templates, "page.html") == "acme's own page"  # from the cache
    with TenantContext.use_tenant(GLOBEX):
        assert render(templates, "page.html") == "the project's page"
    assert render(templates, "page.html") == "the project's page"  # no tenant


@pytest.mark.parametrize("name", ["../globex/secret.html", "globex/secret.html"])
def test_another_tenants_folder_is_out_of_reach(folders: tuple[Path, Path], name: str) -> None:
    templates = engine(folders, "django_omnitenant.loaders.CachedLoader")
    with TenantContext.use_tenant(ACME), pytest.raises(TemplateDoesNotExist):
        templates.get_template(name)


def test_djangos_cached_loader_would_share_one_tenants_template(
    folders: tuple[Path, Path],
) -> None:
    # Why CachedLoader and check W004 exist.
    templates = engine(folders, "django.template.loaders.cached.Loader")
    with TenantContext.use_tenant(ACME):
        assert render(templates, "page.html") == "acme's own page"
    with TenantContext.use_tenant(GLOBEX):
        assert render(templates, "page.html") == "acme's own page"


@pytest.mark.parametrize(
    ("cache", "warned"),
    [
        ("django.template.loaders.cached.Loader", True),
        ("django_omnitenant.loaders.CachedLoader", False),
    ],
)
def test_the_wrong_cache_around_the_tenant_loader_is_a_warning(
    folders: tuple[Path, Path], cache: str, warned: bool
) -> None:
    tenants, _ = folders
    options: dict[str, Any] = {"loaders": [(cache, [(TENANT_LOADER, [str(tenants)])])]}
    backend = {"BACKEND": "django.template.backends.django.DjangoTemplates", "OPTIONS": options}
    with override_settings(TEMPLATES=[backend]):
        ids = {message.id for message in check_configuration()}
    assert ("omnitenant.W004" in ids) is warned


def test_the_context_processor_puts_the_tenant_in_the_context() -> None:
    templates = Engine(context_processors=["django_omnitenant.context_processors.tenant"])
    template = templates.from_string("{{ tenant.tenant_id|default:'public' }}")
    request = RequestFactory().get("/")
    with TenantContext.use_tenant(ACME):
        assert template.render(RequestContext(request)) == "acme"
    assert template.render(RequestContext(request)) == "public"
