"""Encrypted, content-addressed storage for original media.

Each object is encrypted with AES-256-GCM under its own random data key; the data key is wrapped
(AES key wrap, RFC 3394) by the MEDIA_KEY key-encryption key. Objects are addressed by the SHA-256
of their plaintext, written once, and the hash is re-checked on every read, so a swapped or
corrupted file is detected rather than shown. Plaintext never touches the disk.

On disk an object is named by a keyed hash of its SHA-256 (HMAC-SHA256 under a key derived from
MEDIA_KEY), never by the SHA-256 itself: someone holding the disk or a backup but not the key
cannot test whether a known image is stored. The SHA-256 lives only in the database.

File layout: b"MQE1" | wrapped data key (40 bytes) | nonce (12 bytes) | ciphertext+tag.
The SHA-256 is bound as associated data, so a file cannot be moved to another address.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

MAGIC = b"MQE1"
_WRAPPED_LEN = 40
_NONCE_LEN = 12
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


class MediaStoreError(Exception):
    """The object is missing, unreadable or fails its integrity check."""


class MediaIntegrityError(MediaStoreError):
    """Decryption failed or the plaintext no longer hashes to its address."""


class MediaStore(Protocol):
    """Content-addressed storage: every backend's key for some bytes is their SHA-256 hex
    (intake records it as the medium's SHA-256, and reads re-check it)."""

    def put(self, data: bytes) -> str: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def destroy(self, key: str) -> bool: ...


class EncryptedFileStore:
    """The local-filesystem backend: `<root>/<ab>/<cd>/<sha256>.bin`."""

    def __init__(self, root: Path | str, key_encryption_key: bytes):
        if len(key_encryption_key) != 32:
            raise ValueError("the key-encryption key must be 32 bytes")
        self.root = Path(root)
        self._kek = key_encryption_key
        # A separate key for names (not the KEK itself): a name must never help attack the KEK.
        self._name_key = hmac.digest(key_encryption_key, b"moderation media object names", "sha256")

    def _path(self, key: str) -> Path:
        if not _KEY_RE.match(key):
            raise MediaStoreError("malformed media key")
        name = hmac.new(self._name_key, key.encode(), "sha256").hexdigest()
        path = self.root / name[:2] / name[2:4] / f"{name}.bin"
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
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(_NONCE_LEN)
        ciphertext = AESGCM(data_key).encrypt(nonce, data, key.encode())
        blob = MAGIC + aes_key_wrap(self._kek, data_key) + nonce + ciphertext
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
            header = min(size, len(MAGIC) + _WRAPPED_LEN + _NONCE_LEN)
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
            raise MediaStoreError("media object not found") from exc
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + _WRAPPED_LEN + _NONCE_LEN + 16:
            raise MediaIntegrityError("media object is not in the encrypted format")
        offset = len(MAGIC)
        wrapped = blob[offset : offset + _WRAPPED_LEN]
        nonce = blob[offset + _WRAPPED_LEN : offset + _WRAPPED_LEN + _NONCE_LEN]
        ciphertext = blob[offset + _WRAPPED_LEN + _NONCE_LEN :]
        try:
            data_key = aes_key_unwrap(self._kek, wrapped)
            plaintext = AESGCM(data_key).decrypt(nonce, ciphertext, key.encode())
        except (InvalidUnwrap, InvalidTag) as exc:
            raise MediaIntegrityError("media object failed decryption") from exc
        if hashlib.sha256(plaintext).hexdigest() != key:
            raise MediaIntegrityError("media object does not match its SHA-256")
        return plaintext


def media_store_for(config: dict) -> EncryptedFileStore:
    """The configured store (local filesystem today; S3-compatible is the planned second)."""
    from moderation.config import decode_media_key  # local: keeps this module free of Flask

    return EncryptedFileStore(config["MEDIA_DIR"], decode_media_key(config["MEDIA_KEY"]))
