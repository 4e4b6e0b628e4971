"""Tenant media storage: one folder (or key prefix) per tenant, no way out of it.

On the file system below a temporary MEDIA_ROOT, and on django-storages' S3 backend
against moto's S3 server on 127.0.0.1 (the stand-in for S3 on a machine that reaches
none).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings

from django_omnitenant.storage import TenantFileSystemStorage, TenantPrefixMixin
from omnitenant_context import ConfigurationError, NoTenantActive, TenantContext
from tests.servers import free_port, running_server
from tests.support import plain_tenant

ACME = plain_tenant("acme")
GLOBEX = plain_tenant("globex")

ESCAPES = [
    "../globex/x.txt",
    "a/../../globex/x.txt",
    "/etc/passwd",
    "..\\globex\\x.txt",
    "C:\\x.txt",
    "x\x00.txt",
    "..",
]


@pytest.fixture
def media(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "media"
    storages = {
        "default": {"BACKEND": "django_omnitenant.storage.TenantFileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(MEDIA_ROOT=str(root), MEDIA_URL="/media/", STORAGES=storages):
        yield root


def files_below(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def test_each_tenant_has_its_own_folder_and_urls(media: Path) -> None:
    assert isinstance(default_storage, TenantFileSystemStorage)
    with TenantContext.use_tenant(ACME):
        name = default_storage.save("invoices/1.txt", ContentFile(b"acme's invoice"))
        assert name == "invoices/1.txt"  # what the database keeps: relative to the tenant
        assert default_storage.url(name) == "/media/acme/invoices/1.txt"
        assert default_storage.path(name) == str(media / "acme" / "invoices" / "1.txt")
    with TenantContext.use_tenant(GLOBEX):
        assert not default_storage.exists("invoices/1.txt")
        assert default_storage.save("invoices/1.txt", ContentFile(b"globex's")) == name
        assert default_storage.url(name) == "/media/globex/invoices/1.txt"
        with default_storage.open(name) as handle:
            assert handle.read() == b"globex's"
    with TenantContext.use_tenant(ACME):
        with default_storage.open(name) as handle:
            assert handle.read() == b"acme's invoice"
        assert default_storage.size(name) == len(b"acme's invoice")
        assert default_storage.listdir("invoices") == ([], ["1.txt"])
        assert default_storage.get_modified_time(name) is not None
        # A second file of the same name gets another name, still relative.
        other = default_storage.save("invoices/1.txt", ContentFile(b"again"))
        assert other.startswith("invoices/1_")
        assert other.endswith(".txt")
        default_storage.delete(other)
        assert not default_storage.exists(other)
    assert files_below(media) == {"acme/invoices/1.txt", "globex/invoices/1.txt"}


def test_max_length_applies_to_the_stored_name(media: Path) -> None:
    with TenantContext.use_tenant(ACME):
        name = default_storage.save("a" * 10 + ".txt", ContentFile(b"x"), max_length=14)
        assert name == "aaaaaaaaaa.txt"


@pytest.mark.parametrize("name", ESCAPES)
def test_no_name_leaves_the_tenants_folder(media: Path, name: str) -> None:
    with TenantContext.use_tenant(GLOBEX):
        default_storage.save("x.txt", ContentFile(b"globex's secret"))
    with TenantContext.use_tenant(ACME):
        with pytest.raises(SuspiciousFileOperation):
            default_storage.save(name, ContentFile(b"overwrite"))
        for read in (default_storage.open, default_storage.exists, default_storage.url):
            with pytest.raises(SuspiciousFileOperation):
                read(name)
        with pytest.raises(SuspiciousFileOperation):
            default_storage.delete(name)
    assert files_below(media) == {"globex/x.txt"}
    assert (media / "globex" / "x.txt").read_bytes() == b"globex's secret"


def test_a_tenant_id_in_a_name_is_a_folder_of_the_current_tenant(media: Path) -> None:
    with TenantContext.use_tenant(ACME):
        name = default_storage.save("globex/x.txt", ContentFile(b"acme's"))
        assert default_storage.url(name) == "/media/acme/globex/x.txt"
    with TenantContext.use_tenant(GLOBEX):
        assert not default_storage.exists("x.txt")
        assert not default_storage.exists("globex/x.txt")
    assert files_below(media) == {"acme/globex/x.txt"}


def test_no_tenant_is_refused(media: Path) -> None:
    for operation in (
        lambda: default_storage.save("x.txt", ContentFile(b"x")),
        lambda: default_storage.open("x.txt"),
        lambda: default_storage.exists("x.txt"),
        lambda: default_storage.url("x.txt"),
    ):
        with pytest.raises(NoTenantActive, match="shared_prefix"):
            operation()
    with TenantContext.use_tenant(ACME), TenantContext.use_master_db():
        with pytest.raises(NoTenantActive):
            default_storage.exists("x.txt")
    assert files_below(media) == set()


def test_a_shared_prefix_takes_files_of_no_tenant(tmp_path: Path) -> None:
    storage = TenantFileSystemStorage(
        location=tmp_path, base_url="/media/", shared_prefix="shared-files"
    )
    assert storage.save("logo.png", ContentFile(b"logo")) == "logo.png"
    assert storage.url("logo.png") == "/media/shared-files/logo.png"
    with TenantContext.use_tenant(ACME):
        assert not storage.exists("logo.png")
    assert files_below(tmp_path) == {"shared-files/logo.png"}


@pytest.mark.parametrize("prefix", ["public", "acme", "", "../x", "acme/sub"])
def test_a_shared_prefix_that_a_tenant_could_reach_is_refused(prefix: str) -> None:
    with pytest.raises((ConfigurationError, SuspiciousFileOperation)):
        TenantFileSystemStorage(shared_prefix=prefix)


# -- S3 through django-storages, against moto's S3 server --------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running_server(argv, port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def s3(s3_endpoint: str, request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    import boto3
    from storages.backends.s3 import S3Storage

    class TenantS3Storage(TenantPrefixMixin, S3Storage):
        pass

    options = {
        "endpoint_url": s3_endpoint,
        "access_key": "test",
        "secret_key": "test",  # moto accepts any credentials
        "region_name": "us-east-1",
    }
    bucket = f"media-{request.node.name.lower().replace('_', '-')[:40]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    yield TenantS3Storage(bucket_name=bucket, location="uploads", **options), client
    keys = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    for key in keys:
        client.delete_object(Bucket=bucket, Key=key["Key"])
    client.delete_bucket(Bucket=bucket)


def bucket_keys(client: Any, storage: Any) -> set[str]:
    listed = client.list_objects_v2(Bucket=storage.bucket_name).get("Contents", [])
    return {item["Key"] for item in listed}


def test_s3_keys_are_prefixed_per_tenant(s3: tuple[Any, Any]) -> None:
    storage, client = s3
    with TenantContext.use_tenant(ACME):
        name = storage.save("invoices/1.txt", ContentFile(b"acme's"))
        assert name == "invoices/1.txt"
        assert "/uploads/acme/invoices/1.txt" in storage.url(name)
    with TenantContext.use_tenant(GLOBEX):
        assert not storage.exists(name)
        storage.save(name, ContentFile(b"globex's"))
        with storage.open(name) as handle:
            assert handle.read() == b"globex's"
        assert storage.listdir("invoices") == ([], ["1.txt"])
    with TenantContext.use_tenant(ACME):
        with storage.open(name) as handle:
            assert handle.read() == b"acme's"
        assert storage.size(name) == 6
        saved = storage.save("globex/1.txt", ContentFile(b"mine"))  # a folder of acme's
    assert bucket_keys(client, storage) == {
        "uploads/acme/invoices/1.txt",
        "uploads/globex/invoices/1.txt",
        f"uploads/acme/{saved}",
    }
    with TenantContext.use_tenant(ACME):
        storage.delete(name)
    assert "uploads/acme/invoices/1.txt" not in bucket_keys(client, storage)
    assert "uploads/globex/invoices/1.txt" in bucket_keys(client, storage)


@pytest.mark.parametrize("name", ESCAPES)
def test_s3_names_cannot_leave_the_tenants_prefix(s3: tuple[Any, Any], name: str) -> None:
    storage, client = s3
    with TenantContext.use_tenant(GLOBEX):
        storage.save("x.txt", ContentFile(b"globex's secret"))
    with TenantContext.use_tenant(ACME):
        with pytest.raises(SuspiciousFileOperation):
            storage.save(name, ContentFile(b"overwrite"))
        with pytest.raises(SuspiciousFileOperation):
            storage.open(name)
    with pytest.raises(NoTenantActive):
        storage.exists("x.txt")
    assert bucket_keys(client, storage) == {"uploads/globex/x.txt"}
