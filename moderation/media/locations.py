"""Where media is stored: MEDIA_STORAGE_URL (and `moderation media migrate --to`) parsed into a
location, and the store that serves it.

`file:///absolute/path` is the local-filesystem store; `s3://bucket/prefix` is S3-compatible
object storage (credentials from boto3's usual chain, never from the URL).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from moderation.media.store import EncryptedFileStore, MediaStore

# S3's bucket naming rules (lower case, digits, dots and hyphens; 3 to 63 characters).
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
SCHEMES = ("file", "s3")


@dataclass(frozen=True)
class StorageLocation:
    """A parsed storage URL: `path` for file, `bucket` and `prefix` (no slashes at its ends,
    possibly empty) for s3."""

    scheme: str
    path: str = ""
    bucket: str = ""
    prefix: str = ""

    def describe(self) -> str:
        """The location for messages and audit events (the URL never holds secrets: credentials
        in it are refused by `parse_storage_url`)."""
        if self.scheme == "file":
            return Path(self.path).as_uri()
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def parse_storage_url(url: str) -> StorageLocation:
    """Parse `file:///path` or `s3://bucket/prefix`; raises ValueError with a sentence that
    names the problem. The message never repeats the URL, which might hold a credential."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("give file:///absolute/path or s3://bucket/prefix")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = f"'{scheme}'" if scheme.isalnum() else "none"
        raise ValueError(
            f"unsupported scheme {shown}: give file:///absolute/path or s3://bucket/prefix"
        )
    if "@" in parts.netloc:
        # Refused, not ignored: a secret in the URL would end up in process lists and config dumps.
        raise ValueError("put credentials in the usual AWS variables, not in the URL")
    if parts.query or parts.fragment:
        raise ValueError("a storage URL takes no query or fragment")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError("a file URL names a local folder: file:///absolute/path")
        path = unquote(parts.path)
        if not path.startswith("/") or path == "/":
            raise ValueError("a file URL needs an absolute folder: file:///absolute/path")
        return StorageLocation("file", path=path.rstrip("/"))
    bucket = parts.netloc
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise ValueError("an s3 URL needs a valid bucket name: s3://bucket/prefix")
    prefix = unquote(parts.path).strip("/")
    if any(segment in ("", ".", "..") for segment in prefix.split("/")) and prefix:
        raise ValueError("an s3 prefix has no empty, '.' or '..' segments")
    return StorageLocation("s3", bucket=bucket, prefix=prefix)


def configured_location(config: Mapping[str, Any]) -> StorageLocation:
    """The location of the configured store: MEDIA_STORAGE_URL, or the folder MEDIA_DIR when it
    is unset (as `media_store_for` chooses). Raises ValueError for a bad URL."""
    url = config.get("MEDIA_STORAGE_URL")
    if url:
        return parse_storage_url(url)
    return StorageLocation("file", path=str(Path(config["MEDIA_DIR"]).resolve()))


def check_backend_available(location: StorageLocation) -> None:
    """Raise ValueError if the backend's library is not installed (boto3 for s3), so a missing
    extra is said at startup rather than on the first upload."""
    if location.scheme == "s3" and importlib.util.find_spec("boto3") is None:
        raise ValueError("s3:// storage needs boto3: pip install 'moderation-queue[s3]'")


def open_store(
    location: StorageLocation, key_encryption_key: bytes, s3_endpoint_url: str | None = None
) -> MediaStore:
    """The store at `location`; opens no connection (an S3 client connects on first use)."""
    if location.scheme == "file":
        return EncryptedFileStore(location.path, key_encryption_key)
    from moderation.media.s3store import EncryptedS3Store, s3_client  # boto3 is an extra

    return EncryptedS3Store(
        s3_client(s3_endpoint_url), location.bucket, location.prefix, key_encryption_key
    )
