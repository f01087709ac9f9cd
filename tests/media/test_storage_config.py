"""MEDIA_STORAGE_URL picks the backend; a bad one stops the app at startup with one sentence
that never repeats the URL (it might hold a credential)."""

from __future__ import annotations

import base64

import pytest

from moderation import create_app
from moderation.config import ConfigurationError
from moderation.media.locations import StorageLocation, parse_storage_url
from moderation.media.s3store import EncryptedS3Store
from moderation.media.store import EncryptedFileStore, media_store_for

KEYS = {
    "DATABASE_URL": "sqlite://",
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "MEDIA_KEY": base64.b64encode(bytes(range(32))).decode(),
    "EVIDENCE_SIGNING_KEY": base64.b64encode(bytes(range(1, 33))).decode(),
}


def test_urls_parse():
    assert parse_storage_url("file:///srv/media/") == StorageLocation("file", path="/srv/media")
    assert parse_storage_url("s3://bucket-1/a/b/") == StorageLocation(
        "s3", bucket="bucket-1", prefix="a/b"
    )
    assert parse_storage_url("s3://bucket-1").prefix == ""
    assert parse_storage_url("s3://bucket-1/a/b").describe() == "s3://bucket-1/a/b"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/x", "unsupported scheme 'ftp'"),
        ("/srv/media", "unsupported scheme none"),
        ("file://server/share", "local folder"),
        ("file:relative", "absolute folder"),
        ("s3://Bad_Bucket/x", "valid bucket name"),
        ("s3://AKIA:hunter22secret@bucket/x", "not in the URL"),
        ("s3://bucket/a//b", "empty"),
        ("s3://bucket/x?versionId=1", "no query"),
    ],
)
def test_bad_urls_are_refused_at_startup(url, message, tmp_path):
    with pytest.raises(ConfigurationError) as raised:
        create_app({**KEYS, "MEDIA_STORAGE_URL": url, "MEDIA_DIR": None})
    text = str(raised.value)
    assert text.startswith("MODERATION_MEDIA_STORAGE_URL: ") and message in text
    assert "hunter22" not in text and "AKIA" not in text


def test_environment_selects_s3(monkeypatch, s3_endpoint, s3_bucket):
    monkeypatch.setenv("MODERATION_MEDIA_STORAGE_URL", f"s3://{s3_bucket}/originals")
    monkeypatch.setenv("MODERATION_S3_ENDPOINT_URL", s3_endpoint)
    app = create_app(KEYS)
    store = media_store_for(app.config)
    assert isinstance(store, EncryptedS3Store)
    assert (store.bucket, store.prefix) == (s3_bucket, "originals")
    assert store.get(store.put(b"bytes")) == b"bytes"  # reaches moto, over HTTP


def test_file_url_and_media_dir(tmp_path):
    app = create_app({**KEYS, "MEDIA_STORAGE_URL": (tmp_path / "m").as_uri()})
    assert app.config["MEDIA_DIR"] == str(tmp_path / "m")
    store = media_store_for(app.config)
    assert isinstance(store, EncryptedFileStore) and store.root == tmp_path / "m"
    # MEDIA_DIR alone keeps working, as before the URL existed.
    app = create_app({**KEYS, "MEDIA_DIR": str(tmp_path / "old")})
    assert media_store_for(app.config).root == tmp_path / "old"
    with pytest.raises(ConfigurationError, match="different folders"):
        create_app(
            {**KEYS, "MEDIA_STORAGE_URL": (tmp_path / "m").as_uri(), "MEDIA_DIR": str(tmp_path)}
        )
