"""Media store fixtures: moto's S3 server over real HTTP (started here, once per session, on a
free loopback port), a fresh bucket per test, and `media_backend`, which runs a test once per
backend (filesystem, S3, versioned S3) with helpers to reach the raw stored objects."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from moderation.media.store import EncryptedFileStore, MediaStore

MEDIA_KEY = bytes(range(32))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server; AWS variables point boto3's default chain at fake
    credentials for the session (so a developer's real ones are never used)."""
    from moto.server import ThreadedMotoServer  # the `test` extra; missing it is a failure

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("AWS_SESSION_TOKEN", raising=False)
        # The server logs every request through werkzeug: too loud for a test run.
        werkzeug_log = logging.getLogger("werkzeug")
        level = werkzeug_log.level
        werkzeug_log.setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()
            werkzeug_log.setLevel(level)


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    from moderation.media.s3store import s3_client

    return s3_client(s3_endpoint)


def make_bucket(s3: Any, versioned: bool = False) -> str:
    bucket = f"media-{uuid.uuid4().hex[:20]}"
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


@pytest.fixture
def s3_bucket(s3: Any) -> str:
    return make_bucket(s3)


def object_versions(s3: Any, bucket: str, prefix: str = "") -> list[tuple[str, str]]:
    """(key, version id) of every version and delete marker in `bucket` under `prefix`."""
    found = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            found.append((entry["Key"], entry["VersionId"]))
    return found


@dataclass
class MediaBackend:
    """One backend under test: `store`, `make(key)` for another store at the same place, and
    the raw objects by their names relative to the store's root."""

    kind: str
    store: MediaStore
    make: Callable[[bytes], MediaStore]
    names: Callable[[], list[str]]
    read_raw: Callable[[str], bytes]
    write_raw: Callable[[str, bytes], None]
    name_of: Callable[[MediaStore, str], str]

    def raw_name(self, key: str, store: MediaStore | None = None) -> str:
        return self.name_of(store or self.store, key)


def file_backend(root: Path) -> MediaBackend:
    def write(name: str, blob: bytes) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(blob)

    return MediaBackend(
        kind="file",
        store=EncryptedFileStore(root, MEDIA_KEY),
        make=lambda kek: EncryptedFileStore(root, kek),
        names=lambda: sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()),
        read_raw=lambda name: (root / name).read_bytes(),
        write_raw=write,
        name_of=lambda store, key: str(store._path(key).relative_to(root)),
    )


def s3_backend(s3: Any, bucket: str, prefix: str, kind: str) -> MediaBackend:
    from moderation.media.s3store import EncryptedS3Store

    def names() -> list[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
        keys = [entry["Key"] for page in pages for entry in page.get("Contents", [])]
        return sorted(key.removeprefix(prefix + "/") for key in keys)

    def write(name: str, blob: bytes) -> None:
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=blob)

    return MediaBackend(
        kind=kind,
        store=EncryptedS3Store(s3, bucket, prefix, MEDIA_KEY),
        make=lambda kek: EncryptedS3Store(s3, bucket, prefix, kek),
        names=names,
        read_raw=lambda name: s3.get_object(Bucket=bucket, Key=f"{prefix}/{name}")["Body"].read(),
        write_raw=write,
        name_of=lambda store, key: store.object_key(key).removeprefix(prefix + "/"),
    )


@pytest.fixture(params=["file", "s3", "s3-versioned"])
def media_backend(request: pytest.FixtureRequest, tmp_path: Path) -> MediaBackend:
    if request.param == "file":
        return file_backend(tmp_path / "media")
    s3 = request.getfixturevalue("s3")
    bucket = make_bucket(s3, versioned=request.param == "s3-versioned")
    return s3_backend(s3, bucket, "originals", request.param)
