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
    os.replace(store._path(key_a), store._path(key_b))
    with pytest.raises(MediaIntegrityError):
        store.get(key_b)


def test_wrong_key_cannot_read(tmp_path):
    right = EncryptedFileStore(tmp_path, KEY)
    key = right.put(make_image(7))
    wrong = EncryptedFileStore(tmp_path, bytes(32))
    with pytest.raises(MediaStoreError):  # without the key the object cannot even be found
        wrong.get(key)
    os.makedirs(wrong._path(key).parent, exist_ok=True)
    os.replace(right._path(key), wrong._path(key))
    with pytest.raises(MediaIntegrityError):  # and, put where it would look, not decrypted
        wrong.get(key)


def test_file_names_do_not_reveal_the_sha256(tmp_path):
    """Finding 17: objects were named by the SHA-256 of the plaintext, so anyone with the disk or
    a backup could test whether a known image is stored. Names are now a keyed hash."""
    store = EncryptedFileStore(tmp_path, KEY)
    data = make_image(9)
    sha256 = store.put(data)
    (path,) = _files(tmp_path)
    assert sha256 not in str(path) and sha256[:16] not in str(path)
    # The same bytes in another instance (another key) get another name.
    other = tmp_path / "other"
    EncryptedFileStore(other, bytes(31) + b"\x01").put(data)
    assert _files(other)[0].name != path.name


def test_a_store_with_legacy_names_is_renamed_on_first_read(tmp_path):
    store = EncryptedFileStore(tmp_path, KEY)
    data = make_image(10)
    key = store.put(data)
    legacy = tmp_path / key[:2] / key[2:4] / f"{key}.bin"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    os.replace(store._path(key), legacy)  # as a release before keyed names wrote it
    assert store.exists(key) and store.get(key) == data
    assert not legacy.exists() and [p.name for p in _files(tmp_path)] == [store._path(key).name]


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
