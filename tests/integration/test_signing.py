"""Security: a value signed inside one tenant is refused in every other tenant.

The ids are tenant-local (the same note pk exists in both tenants), the apps are
Django's own signing users, unchanged: ``TimestampSigner``, ``signing.dumps``, signed
cookies, password-reset tokens and the session's auth hash.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from django_omnitenant.signing import TenantBoundSecret, derive_tenant_key
from omnitenant_context import TenantContext
from tests.tenantapp.models import Note

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("live_db")]


def note_pk(tenant: Any) -> int:
    with TenantContext.use_tenant(tenant):
        return int(Note.objects.get().pk)


def test_the_same_pk_exists_in_both_tenants(tenant_pair: tuple[Any, Any]) -> None:
    a, b = tenant_pair
    assert note_pk(a) == note_pk(b)  # the premise of the attack


def test_timestamp_signer_token_is_refused_in_another_tenant(
    tenant_pair: tuple[Any, Any],
) -> None:
    a, b = tenant_pair
    with TenantContext.use_tenant(b):
        token = signing.TimestampSigner(salt="confirm-email").sign(str(note_pk(b)))
        assert signing.TimestampSigner(salt="confirm-email").unsign(token, max_age=60)
    with TenantContext.use_tenant(a), pytest.raises(signing.BadSignature):
        signing.TimestampSigner(salt="confirm-email").unsign(token, max_age=60)
    with pytest.raises(signing.BadSignature):  # nor on the public host
        signing.TimestampSigner(salt="confirm-email").unsign(token, max_age=60)


def test_signing_dumps_is_refused_in_another_tenant(tenant_pair: tuple[Any, Any]) -> None:
    a, b = tenant_pair
    with TenantContext.use_tenant(a):
        value = signing.dumps({"note": note_pk(a)})
        assert signing.loads(value) == {"note": note_pk(a)}
    with TenantContext.use_tenant(b), pytest.raises(signing.BadSignature):
        signing.loads(value)


def test_signed_cookie_is_refused_in_another_tenant(tenant_pair: tuple[Any, Any]) -> None:
    a, b = tenant_pair
    with TenantContext.use_tenant(a):
        response = HttpResponse()
        response.set_signed_cookie("note", str(note_pk(a)), salt="notes")
    cookie = response.cookies["note"].value
    request = RequestFactory().get("/", HTTP_COOKIE=f"note={cookie}")
    with TenantContext.use_tenant(a):
        assert request.get_signed_cookie("note", salt="notes") == str(note_pk(a))
    with TenantContext.use_tenant(b), pytest.raises(signing.BadSignature):
        request.get_signed_cookie("note", salt="notes")


@pytest.fixture
def same_user_everywhere(tenant_pair: tuple[Any, Any]) -> Iterator[Any]:
    # auth is a shared app in the test project: one row, seen from both tenants, with
    # the same pk, password hash and last login: only the key can tell them apart.
    user = User.objects.create_user("victim", "victim@example.test", "pw")
    try:
        yield user
    finally:
        user.delete()


def test_password_reset_token_is_refused_in_another_tenant(
    tenant_pair: tuple[Any, Any], same_user_everywhere: Any
) -> None:
    a, b = tenant_pair
    with TenantContext.use_tenant(a):
        token = default_token_generator.make_token(same_user_everywhere)
        assert default_token_generator.check_token(same_user_everywhere, token)
    with TenantContext.use_tenant(b):
        assert not default_token_generator.check_token(same_user_everywhere, token)


def test_session_auth_hash_differs_per_tenant(
    tenant_pair: tuple[Any, Any], same_user_everywhere: Any
) -> None:
    a, b = tenant_pair
    with TenantContext.use_tenant(a):
        in_a = same_user_everywhere.get_session_auth_hash()
    with TenantContext.use_tenant(b):
        in_b = same_user_everywhere.get_session_auth_hash()
    assert in_a != in_b


def test_rotation_through_fallbacks_keeps_working_per_tenant(
    tenant_pair: tuple[Any, Any],
) -> None:
    a, b = tenant_pair
    with override_settings(SECRET_KEY="the-old-key-" + "x" * 40):
        assert isinstance(settings.SECRET_KEY, TenantBoundSecret)
        with TenantContext.use_tenant(a):
            token = signing.dumps("hello", salt="rotation")
    with override_settings(
        SECRET_KEY="the-new-key-" + "y" * 40, SECRET_KEY_FALLBACKS=["the-old-key-" + "x" * 40]
    ):
        assert all(isinstance(key, TenantBoundSecret) for key in settings.SECRET_KEY_FALLBACKS)
        with TenantContext.use_tenant(a):
            assert signing.loads(token, salt="rotation") == "hello"
        with TenantContext.use_tenant(b), pytest.raises(signing.BadSignature):
            signing.loads(token, salt="rotation")
    with override_settings(SECRET_KEY="the-new-key-" + "y" * 40, SECRET_KEY_FALLBACKS=[]):
        with TenantContext.use_tenant(a), pytest.raises(signing.BadSignature):
            signing.loads(token, salt="rotation")


def test_the_master_keeps_the_plain_key(tenant_pair: tuple[Any, Any]) -> None:
    a, _ = tenant_pair
    key = settings.SECRET_KEY
    assert key == "omnitenant-tests-only-not-a-secret"  # compares as the key you set
    assert str(key) == "omnitenant-tests-only-not-a-secret"
    plain = signing.Signer(key="omnitenant-tests-only-not-a-secret").sign("x")
    assert signing.Signer().unsign(plain) == "x"  # master values made before stay valid
    with TenantContext.use_tenant(a):
        assert str(key) == derive_tenant_key("omnitenant-tests-only-not-a-secret", "pair_a")
        with pytest.raises(signing.BadSignature):
            signing.Signer().unsign(plain)


def test_the_switch_turns_it_off(tenant_pair: tuple[Any, Any]) -> None:
    a, b = tenant_pair
    config = {**settings.OMNITENANT_CONFIG, "BIND_SIGNING_TO_TENANT": False}
    with override_settings(OMNITENANT_CONFIG=config):
        assert type(settings.SECRET_KEY) is str
        with TenantContext.use_tenant(a):
            value = signing.dumps("shared")
        with TenantContext.use_tenant(b):
            assert signing.loads(value) == "shared"
    assert isinstance(settings.SECRET_KEY, TenantBoundSecret)
