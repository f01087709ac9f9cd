"""Encrypted, content-addressed storage for original media.

Each object is encrypted with AES-256-GCM under its own random data key; the data key is wrapped
(AES key wrap, RFC 3394) by the MEDIA_KEY key-encryption key. Objects are addressed by the SHA-256
of their plaintext, written once, and the hash is re-checked on every read, so a swapped or
corrupted file is detected rather than shown. Plaintext never touches the disk.

Two backends share this format and naming (`seal`/`unseal`, `object_name`): the local filesystem
here, and S3-compatible object storage in moderation/media/s3store.py; `media_store_for` picks one
from MEDIA_STORAGE_URL (moderation/media/locations.py).

On disk an object is named by a keyed hash of its SHA-256 (HMAC-SHA256 under a key derived from
MEDIA_KEY), never by the SHA-256 itself: someone holding the disk or a backup but not the key
cannot test whether a known image is stored. The SHA-256 lives only in the database.

Object layout: b"MQE1" | wrapped data key (40 bytes) | nonce (12 bytes) | ciphertext+tag.
The SHA-256 is bound as associated data, so an object cannot be moved to another address.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

MAGIC = b"MQE1"
_WRAPPED_LEN = 40
_NONCE_LEN = 12
# Everything before the ciphertext: what destroy() must overwrite first.
HEADER_LEN = len(MAGIC) + _WRAPPED_LEN + _NONCE_LEN
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


class MediaStoreError(Exception):
    """The object is missing, unreadable or fails its integrity check."""


class MediaNotFound(MediaStoreError):
    """No object is stored at this key (never stored, or destroyed)."""


class MediaIntegrityError(MediaStoreError):
    """Decryption failed or the plaintext no longer hashes to its address."""


class MediaStore(Protocol):
    """Content-addressed storage: every backend's key for some bytes is their SHA-256 hex
    (intake records it as the medium's SHA-256, and reads re-check it)."""

    def put(self, data: bytes) -> str: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def destroy(self, key: str) -> bool: ...


def name_key_for(key_encryption_key: bytes) -> bytes:
    """The key that names objects, derived from the KEK (not the KEK itself: a name must never
    help attack the KEK). Raises ValueError unless the KEK is 32 bytes."""
    if len(key_encryption_key) != 32:
        raise ValueError("the key-encryption key must be 32 bytes")
    return hmac.digest(key_encryption_key, b"moderation media object names", "sha256")


def object_name(name_key: bytes, key: str) -> str:
    """`ab/cd/<keyed hash>.bin`: the object's name relative to the store's root, the same in
    every backend (so a store copied between them keeps its names). Raises MediaStoreError for a
    key that is not SHA-256 hex, so no key can name anything outside the store."""
    if not _KEY_RE.match(key):
        raise MediaStoreError("malformed media key")
    name = hmac.new(name_key, key.encode(), "sha256").hexdigest()
    return f"{name[:2]}/{name[2:4]}/{name}.bin"


def seal(key_encryption_key: bytes, key: str, plaintext: bytes) -> bytes:
    """The stored form of `plaintext`, whose SHA-256 hex is `key`: a fresh data key wrapped by
    the KEK, a random nonce, and the AES-256-GCM ciphertext with `key` as associated data."""
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = secrets.token_bytes(_NONCE_LEN)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, key.encode())
    return MAGIC + aes_key_wrap(key_encryption_key, data_key) + nonce + ciphertext


def unseal(key_encryption_key: bytes, key: str, blob: bytes) -> bytes:
    """The plaintext of `blob`, read from the address `key`; raises MediaIntegrityError if it is
    not in the format, does not decrypt, or does not hash back to `key`."""
    if not blob.startswith(MAGIC) or len(blob) < HEADER_LEN + 16:
        raise MediaIntegrityError("media object is not in the encrypted format")
    wrapped = blob[len(MAGIC) : len(MAGIC) + _WRAPPED_LEN]
    nonce = blob[len(MAGIC) + _WRAPPED_LEN : HEADER_LEN]
    try:
        data_key = aes_key_unwrap(key_encryption_key, wrapped)
        plaintext = AESGCM(data_key).decrypt(nonce, blob[HEADER_LEN:], key.encode())
    except (InvalidUnwrap, InvalidTag) as exc:
        raise MediaIntegrityError("media object failed decryption") from exc
    if hashlib.sha256(plaintext).hexdigest() != key:
        raise MediaIntegrityError("media object does not match its SHA-256")
    return plaintext


class EncryptedFileStore:
    """The local-filesystem backend: `<root>/<ab>/<cd>/<keyed hash>.bin`."""

    def __init__(self, root: Path | str, key_encryption_key: bytes):
        self._name_key = name_key_for(key_encryption_key)
        self.root = Path(root)
        self._kek = key_encryption_key

    def _path(self, key: str) -> Path:
        path = self.root / object_name(self._name_key, key)
        legacy = self.root / key[:2] / key[2:4] / f"{key}.bin"
        if not path.exists() and legacy.exists():
            # A store written before objects had keyed names: rename on first use (atomic, and
            # harmless if two processes race: the loser finds the new name in place).
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(legacy, path)
            except FileNotFoundError:
                pass
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def put(self, data: bytes) -> str:
        """Store `data` encrypted and return its key (SHA-256 hex). Idempotent: storing the same
        bytes twice keeps the first object."""
        key = hashlib.sha256(data).hexdigest()
        path = self._path(key)
        if path.exists():
            return key
        blob = seal(self._kek, key, data)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and link it into place: readers never see half an object,
        # and a concurrent writer of the same bytes simply loses the race harmlessly.
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp_name, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp_name)
        return key

    def destroy(self, key: str) -> bool:
        """Crypto-shred the object (retention, moderation/cases/retention.py): overwrite its
        wrapped data key first, then the ciphertext, with random bytes, flush, and unlink it.
        Returns False when it was already gone.

        Once the wrapped key is overwritten no copy of the ciphertext's blocks that survives on
        the device (journal, SSD remapping) can be decrypted, even with MEDIA_KEY. A backup taken
        earlier still holds the wrapped key: backups must expire on the retention schedule too.
        """
        path = self._path(key)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            size = os.fstat(fd).st_size
            header = min(size, HEADER_LEN)
            os.pwrite(fd, secrets.token_bytes(header), 0)
            os.fsync(fd)
            for offset in range(header, size, 1 << 20):
                os.pwrite(fd, secrets.token_bytes(min(1 << 20, size - offset)), offset)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.unlink(path)
        return True

    def get(self, key: str) -> bytes:
        """The plaintext of `key`; raises MediaStoreError if missing, MediaIntegrityError if it
        does not decrypt or hash back to `key`."""
        path = self._path(key)
        try:
            blob = path.read_bytes()
        except FileNotFoundError as exc:
            raise MediaNotFound("media object not found") from exc
        return unseal(self._kek, key, blob)


def media_store_for(config: Mapping[str, Any]) -> MediaStore:
    """The configured store: MEDIA_STORAGE_URL (`file:///path` or `s3://bucket/prefix`, with
    S3_ENDPOINT_URL), or the folder MEDIA_DIR when it is unset. Raises ConfigurationError for a
    bad URL or key. Opens no connection: an S3 client connects on first use."""
    # local: keeps this module free of Flask
    from moderation.config import ConfigurationError, decode_media_key
    from moderation.media.locations import open_store, parse_storage_url

    key_encryption_key = decode_media_key(config["MEDIA_KEY"])
    url = config.get("MEDIA_STORAGE_URL")
    if not url:
        return EncryptedFileStore(config["MEDIA_DIR"], key_encryption_key)
    try:
        location = parse_storage_url(url)
    except ValueError as exc:
        raise ConfigurationError(f"MODERATION_MEDIA_STORAGE_URL: {exc}") from None
    return open_store(location, key_encryption_key, config.get("S3_ENDPOINT_URL") or None)
