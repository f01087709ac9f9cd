"""Originals are encrypted at rest, content-addressed, and checked on every read: on every
backend (`media_backend` runs each test on the filesystem, on S3 and on versioned S3)."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Report
from moderation.core.db import db
from moderation.media.s3store import EncryptedS3Store, MediaStoreUnavailable, s3_client
from moderation.media.store import (
    EncryptedFileStore,
    MediaIntegrityError,
    MediaNotFound,
    MediaStoreError,
    media_store_for,
)
from tests.factories import login, make_image, make_platform, make_user, post_report, report_body
from tests.media.conftest import MEDIA_KEY, file_backend, make_bucket, object_versions, s3_backend
from tests.review.review_factories import make_report

KEY = MEDIA_KEY


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on return: nothing listens there


def _blobs(backend):
    return [backend.read_raw(name) for name in backend.names()]


def test_round_trip_and_no_plaintext_on_disk(media_backend):
    store = media_backend.store
    jpeg, png = make_image(1), make_image(2, fmt="PNG")
    for data in (jpeg, png):
        key = store.put(data)
        assert key == hashlib.sha256(data).hexdigest()
        assert store.exists(key) and store.get(key) == data
    blobs = _blobs(media_backend)
    assert len(blobs) == 2
    for blob in blobs:
        assert (
            not blob.startswith(b"\xff\xd8\xff") and b"\x89PNG" not in blob and b"JFIF" not in blob
        )
        assert jpeg[100:140] not in blob and png[100:140] not in blob


def test_put_is_idempotent(media_backend):
    store = media_backend.store
    data = make_image(3)
    first = media_backend.read_raw(media_backend.raw_name(store.put(data)))
    assert store.put(data) == hashlib.sha256(data).hexdigest()
    assert len(media_backend.names()) == 1
    # The first object is kept, not rewritten (a second version would be a second data key).
    assert media_backend.read_raw(media_backend.names()[0]) == first
    if media_backend.kind == "s3-versioned":
        assert len(object_versions(store._client, store.bucket)) == 1


def test_tampered_object_is_detected(media_backend):
    store = media_backend.store
    key = store.put(make_image(4))
    (name,) = media_backend.names()
    blob = bytearray(media_backend.read_raw(name))
    blob[-5] ^= 0x01
    media_backend.write_raw(name, bytes(blob))
    with pytest.raises(MediaIntegrityError):
        store.get(key)


def test_truncated_object_is_detected(media_backend):
    store = media_backend.store
    key = store.put(make_image(11))
    media_backend.write_raw(media_backend.raw_name(key), b"MQE1" + bytes(20))
    with pytest.raises(MediaIntegrityError):
        store.get(key)


def test_object_moved_to_another_address_is_detected(media_backend):
    store = media_backend.store
    key_a, key_b = store.put(make_image(5)), store.put(make_image(6))
    blob_a = media_backend.read_raw(media_backend.raw_name(key_a))
    media_backend.write_raw(media_backend.raw_name(key_b), blob_a)
    with pytest.raises(MediaIntegrityError):
        store.get(key_b)


def test_wrong_key_cannot_read(media_backend):
    right = media_backend.store
    key = right.put(make_image(7))
    wrong = media_backend.make(bytes(32))
    with pytest.raises(MediaNotFound):  # without the key the object cannot even be found
        wrong.get(key)
    blob = media_backend.read_raw(media_backend.raw_name(key))
    media_backend.write_raw(media_backend.raw_name(key, wrong), blob)
    with pytest.raises(MediaIntegrityError):  # and, put where it would look, not decrypted
        wrong.get(key)


def test_file_names_do_not_reveal_the_sha256(media_backend):
    """Finding 17: objects were named by the SHA-256 of the plaintext, so anyone with the disk,
    the bucket or a backup could test whether a known image is stored. Names are a keyed hash."""
    data = make_image(9)
    sha256 = media_backend.store.put(data)
    (name,) = media_backend.names()
    assert sha256 not in name and sha256[:16] not in name
    # The same bytes under another key (another instance) get another name.
    media_backend.make(bytes(31) + b"\x01").put(data)
    assert len(set(media_backend.names())) == 2


def test_the_backends_name_objects_alike(tmp_path, s3, s3_bucket):
    """So a store copied between backends (or synced with other tools) keeps its names."""
    key = hashlib.sha256(b"x").hexdigest()
    on_disk = EncryptedFileStore(tmp_path, KEY)._path(key).relative_to(tmp_path)
    assert EncryptedS3Store(s3, s3_bucket, "p/q", KEY).object_key(key) == f"p/q/{on_disk}"


def test_destroy_crypto_shreds(media_backend):
    store = media_backend.store
    key, other = store.put(make_image(12)), store.put(make_image(13))
    assert store.destroy(key) is True
    assert not store.exists(key)
    with pytest.raises(MediaNotFound):
        store.get(key)
    assert media_backend.names() == [media_backend.raw_name(other)]
    assert store.destroy(key) is False
    assert store.get(other) == make_image(13)


def test_destroy_on_s3_leaves_no_version(s3):
    """On a versioned bucket a plain delete only adds a delete marker, and every older version
    still holds a wrapped data key: destroy must remove every version of the object."""
    bucket = make_bucket(s3, versioned=True)
    store = EncryptedS3Store(s3, bucket, "media", KEY)
    key, kept = store.put(make_image(14)), store.put(make_image(15))
    name = store.object_key(key)
    # Older versions of the object, as a re-upload by another tool or a race would leave.
    blob = s3.get_object(Bucket=bucket, Key=name)["Body"].read()
    for _ in range(2):
        s3.put_object(Bucket=bucket, Key=name, Body=blob)
    s3.delete_object(Bucket=bucket, Key=name)  # a delete marker on top
    assert len([v for v in object_versions(s3, bucket) if v[0] == name]) == 4
    assert store.destroy(key) is True
    assert [v for v in object_versions(s3, bucket) if v[0] == name] == []
    assert [v[0] for v in object_versions(s3, bucket)] == [store.object_key(kept)]


def test_unreachable_s3_is_unavailable_not_a_bad_object(tmp_path):
    """An outage must not read as a missing or corrupt medium (triage would fail the medium
    for good): it is its own error, answered 503 on the web."""
    store = EncryptedS3Store(s3_client(f"http://127.0.0.1:{_closed_port()}"), "media", "", KEY)
    with pytest.raises(MediaStoreUnavailable) as raised:
        store.get(hashlib.sha256(b"x").hexdigest())
    assert not isinstance(raised.value, MediaStoreError) and raised.value.status == 503


def test_a_store_with_legacy_names_is_renamed_on_first_read(tmp_path):
    store = EncryptedFileStore(tmp_path, KEY)
    data = make_image(10)
    key = store.put(data)
    legacy = tmp_path / key[:2] / key[2:4] / f"{key}.bin"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    os.replace(store._path(key), legacy)  # as a release before keyed names wrote it
    assert store.exists(key) and store.get(key) == data
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not legacy.exists() and [p.name for p in files] == [store._path(key).name]


def test_missing_and_malformed_keys(media_backend):
    store = media_backend.store
    with pytest.raises(MediaNotFound):
        store.get("0" * 64)
    assert store.exists("0" * 64) is False
    for malformed in ("../../etc/passwd", "A" * 64, "0" * 63):
        with pytest.raises(MediaStoreError):
            store.get(malformed)
        with pytest.raises(MediaStoreError):
            store.exists(malformed)
        with pytest.raises(MediaStoreError):
            store.destroy(malformed)


@pytest.fixture(params=["file", "s3"])
def app_media(request, app):
    """The app's store on each backend, with the test's view of its raw objects."""
    if request.param == "file":
        return file_backend(Path(app.config["MEDIA_DIR"]))
    s3, endpoint = request.getfixturevalue("s3"), request.getfixturevalue("s3_endpoint")
    bucket = make_bucket(s3)
    app.config.update(MEDIA_STORAGE_URL=f"s3://{bucket}/originals", S3_ENDPOINT_URL=endpoint)
    return s3_backend(s3, bucket, "originals", "s3")


def test_media_written_by_intake_is_encrypted(app, client, app_media):
    platform = make_platform(app)
    data = make_image(8)
    assert post_report(client, platform, report_body([data])).status_code == 202
    (blob,) = _blobs(app_media)
    assert not blob.startswith(b"\xff\xd8") and data[100:140] not in blob
    key = hashlib.sha256(data).hexdigest()
    assert app_media.make(KEY).get(key) == data
    assert type(media_store_for(app.config)) is type(app_media.store)


def test_review_shows_a_blurred_preview_and_refuses_a_tampered_object(app, client, app_media):
    """The review UI reads through whichever store is configured, and never shows an object
    that fails its check."""
    make_user(app)
    login(client)
    good, bad = make_image(17), make_image(18)
    ids = [make_report(app, media=[data]) for data in (good, bad)]
    media_ids = []
    for report_id in ids:
        html = client.get(f"/review/{report_id}").get_data(as_text=True)
        media_ids.append(int(re.search(r'data-media-id="(\d+)"', html).group(1)))
    name = app_media.raw_name(hashlib.sha256(bad).hexdigest())
    blob = bytearray(app_media.read_raw(name))
    blob[-5] ^= 0xFF
    app_media.write_raw(name, bytes(blob))
    preview = client.get(f"/review/media/{media_ids[0]}/preview.jpg")
    assert preview.status_code == 200 and preview.data[:3] == b"\xff\xd8\xff"
    assert preview.data != good
    assert client.get(f"/review/media/{media_ids[1]}/preview.jpg").status_code == 404


def test_intake_answers_503_while_s3_is_down(app, client, s3_endpoint):
    """Nothing is acknowledged that was not stored: the platform is told to retry."""
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    app.config.update(MEDIA_STORAGE_URL="s3://media/originals", S3_ENDPOINT_URL=endpoint)
    response = post_report(client, make_platform(app), report_body([make_image(16)]))
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.get_json()["error"] == "media_store_unavailable"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Report)) == 0
