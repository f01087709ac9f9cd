"""Originals are encrypted at rest, content-addressed, and checked on every read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from moderation.media.store import EncryptedFileStore, MediaIntegrityError, MediaStoreError
from tests.factories import make_image

KEY = bytes(range(32))


def _files(root):
    return [p for p in root.rglob("*") if p.is_file()]


def test_round_trip_and_no_plaintext_on_disk(tmp_path):
    store = EncryptedFileStore(tmp_path, KEY)
    jpeg, png = make_image(1), make_image(2, fmt="PNG")
    for data in (jpeg, png):
        key = store.put(data)
        assert key == hashlib.sha256(data).hexdigest()
        assert store.get(key) == data
    for path in _files(tmp_path):
        blob = path.read_bytes()
        assert (
            not blob.startswith(b"\xff\xd8\xff") and b"\x89PNG" not in blob and b"JFIF" not in blob
        )
        assert jpeg[100:140] not in blob and png[100:140] not in blob


def test_put_is_idempotent(tmp_path):
    store = EncryptedFileStore(tmp_path, KEY)
    data = make_image(3)
    assert store.put(data) == store.put(data)
    assert len(_files(tmp_path)) == 1


def test_tampered_object_is_detected(tmp_path):
    store = EncryptedFileStore(tmp_path, KEY)
    key = store.put(make_image(4))
    path = _files(tmp_path)[0]
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(MediaIntegrityError):
        store.get(key)


def test_object_moved_to_another_address_is_detected(tmp_path):
    store = EncryptedFileStore(tmp_path, KEY)
    key_a, key_b = store.put(make_image(5)), store.put(make_image(6))
    path_a = next(p for p in _files(tmp_path) if key_a in p.name)
    path_b = next(p for p in _files(tmp_path) if key_b in p.name)
    os.replace(path_a, path_b)
    with pytest.raises(MediaIntegrityError):
        store.get(key_b)


def test_wrong_key_cannot_read(tmp_path):
    key = EncryptedFileStore(tmp_path, KEY).put(make_image(7))
    with pytest.raises(MediaIntegrityError):
        EncryptedFileStore(tmp_path, bytes(32)).get(key)


def test_missing_and_malformed_keys(tmp_path):
    store = EncryptedFileStore(tmp_path, KEY)
    with pytest.raises(MediaStoreError):
        store.get("0" * 64)
    with pytest.raises(MediaStoreError):
        store.get("../../etc/passwd")


def test_media_written_by_intake_is_encrypted(app, client):
    from tests.factories import make_platform, post_report, report_body

    platform = make_platform(app)
    data = make_image(8)
    post_report(client, platform, report_body([data]))
    files = list(Path(app.config["MEDIA_DIR"]).rglob("*.bin"))
    assert len(files) == 1
    assert not files[0].read_bytes().startswith(b"\xff\xd8")
    store = EncryptedFileStore(app.config["MEDIA_DIR"], KEY)
    assert (
        hashlib.sha256(store.get(hashlib.sha256(data).hexdigest())).hexdigest()
        == hashlib.sha256(data).hexdigest()
    )
