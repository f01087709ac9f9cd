"""The S3-compatible media store (AWS S3, MinIO, Ceph RGW, ...), for hosts that share no disk.

Objects are sealed exactly as the filesystem store seals them (`seal`/`unseal` in
moderation/media/store.py) and named the same way, under the URL's prefix:
`<prefix>/<ab>/<cd>/<keyed hash>.bin`. The plain SHA-256 never appears in the bucket, and the
bytes go to `put_object` straight from memory, so plaintext never touches a disk here either.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from moderation.core.errors import ServiceUnavailableError
from moderation.media.store import (
    MediaNotFound,
    MediaStoreError,
    name_key_for,
    object_name,
    seal,
    unseal,
)

# Error codes S3 answers for "no such object": GetObject says NoSuchKey, HeadObject (no body)
# only its status.
_ABSENT = {"NoSuchKey", "404", "NotFound"}
# Passes at deleting every version before destroy() gives up: a new version can only appear if
# someone writes the same bytes at that very moment (a re-share; retention.py handles that case).
_DESTROY_PASSES = 3


class MediaStoreUnavailable(ServiceUnavailableError):
    """The object store did not answer, or refused us (credentials, permissions, no bucket).
    Not a MediaStoreError: callers that turn a missing or corrupt object into a per-medium error
    let this one through, so a triage job fails and is retried instead of failing the medium, and
    a web request answers 503. The message names only the S3 error code."""

    code = "media_store_unavailable"


def _unavailable(exc: Exception) -> MediaStoreUnavailable:
    if isinstance(exc, ClientError):
        reason = str(exc.response.get("Error", {}).get("Code") or "error")
    else:
        reason = type(exc).__name__
    return MediaStoreUnavailable(f"the media store is unavailable ({reason}); retry")


def _is_absent(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _ABSENT


_clients: dict[tuple[int, str | None], Any] = {}
_clients_lock = threading.Lock()


def s3_client(endpoint_url: str | None = None) -> Any:
    """A boto3 S3 client for `endpoint_url` (None: AWS), one per process and endpoint: building
    one costs milliseconds, and web requests ask for the store each time. Keyed by process id so
    a forked child never shares its parent's connection pool. Credentials and region come from
    boto3's usual chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, instance roles, AWS_DEFAULT_REGION)."""
    cache_key = (os.getpid(), endpoint_url)
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is None:
            config = Config(
                connect_timeout=5,
                read_timeout=60,
                retries={"mode": "standard", "max_attempts": 5},
                # MinIO, Ceph and moto on a private endpoint answer path-style requests; virtual
                # hosts would need DNS for every bucket.
                s3={"addressing_style": "path"} if endpoint_url else {},
            )
            # A session per client: boto3's default session is not thread-safe to create from.
            client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
            _clients[cache_key] = client
    return client


class EncryptedS3Store:
    """Sealed objects in `bucket` under `prefix` (see the module docstring)."""

    def __init__(self, client: Any, bucket: str, prefix: str, key_encryption_key: bytes):
        self._name_key = name_key_for(key_encryption_key)
        self._kek = key_encryption_key
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def object_key(self, key: str) -> str:
        """The S3 object key of media key `key` (MediaStoreError if malformed)."""
        name = object_name(self._name_key, key)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _size(self, name: str) -> int | None:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _is_absent(exc):
                return None
            raise _unavailable(exc) from None
        except BotoCoreError as exc:
            raise _unavailable(exc) from None
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        return self._size(self.object_key(key)) is not None

    def put(self, data: bytes) -> str:
        """Store `data` sealed and return its key (SHA-256 hex). Idempotent: bytes already stored
        are not written again. Two processes storing the same new bytes at once both write; the
        last object wins and either one decrypts to the same bytes (no conditional write, which
        not every S3-compatible service supports)."""
        key = hashlib.sha256(data).hexdigest()
        name = self.object_key(key)
        if self._size(name) is not None:
            return key
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=name,
                Body=seal(self._kek, key, data),
                ContentType="application/octet-stream",
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from None
        return key

    def get(self, key: str) -> bytes:
        """The plaintext of `key`; raises MediaNotFound if absent, MediaIntegrityError if it does
        not decrypt or hash back to `key`, MediaStoreUnavailable if S3 cannot be used."""
        name = self.object_key(key)
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=name)
            blob = response["Body"].read()
        except ClientError as exc:
            if _is_absent(exc):
                raise MediaNotFound("media object not found") from None
            raise _unavailable(exc) from None
        except BotoCoreError as exc:
            raise _unavailable(exc) from None
        return unseal(self._kek, key, blob)

    def destroy(self, key: str) -> bool:
        """Crypto-shred the object: overwrite it with random bytes of its size, then delete
        every version of it (and every delete marker). Returns False when nothing was there;
        raises MediaStoreUnavailable if S3 refuses (retention records the shred first and
        retries the destroy on its next run) or MediaStoreError if versions keep appearing.

        What this does and does not do, honestly: S3 cannot overwrite in place, and the
        wrapped data key travels inside the object. Overwriting only writes a new object (or, on
        a versioned bucket, a new version) of random bytes; what makes the media unrecoverable is
        that afterwards no version of the object exists any more, so no wrapped data key is left
        to unwrap with MEDIA_KEY. That needs s3:ListBucketVersions, s3:DeleteObject and
        s3:DeleteObjectVersion. It does not reach copies outside the bucket's versions:
        replication targets, backups of the bucket, Object Lock retention (the delete is then
        refused, and raises), or the provider's own deferred reclamation of deleted data. Those
        must expire on the retention schedule too (docs/STORAGE.md)."""
        name = self.object_key(key)
        try:
            size = self._size(name)
            found = size is not None
            if size is not None:
                self._client.put_object(
                    Bucket=self.bucket, Key=name, Body=secrets.token_bytes(max(size, 1))
                )
            for _ in range(_DESTROY_PASSES):
                versions = self._versions(name)
                if not versions:
                    return found
                found = True
                for version_id in versions:
                    self._client.delete_object(Bucket=self.bucket, Key=name, VersionId=version_id)
            remaining = self._versions(name)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from None
        if remaining:
            raise MediaStoreError("versions of a destroyed media object keep reappearing")
        return found

    def _versions(self, name: str) -> list[str]:
        """Every version id of object `name`, delete markers included ("null" for an object
        written while versioning was off, which is how an unversioned bucket lists it)."""
        version_ids = []
        paginator = self._client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=name):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if entry["Key"] == name:
                    version_ids.append(entry.get("VersionId") or "null")
        return version_ids
