"""Inbound request signatures: Standard Webhooks and Mastodon's X-Hub-Signature.

Standard Webhooks: `webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256>` entries
over `"{webhook-id}.{webhook-timestamp}.{body}"`, keyed with the base64 part of a `whsec_` secret.
Several entries may be present (the sender rotating keys); any valid one is enough.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret


class SignatureError(Exception):
    """The request is not authentic. `code` tells which check failed."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def new_webhook_secret() -> str:
    """A fresh `whsec_` secret (24 random bytes, base64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_key_bytes(secret: str) -> bytes:
    """The HMAC key of a secret: the decoded base64 after `whsec_`, or the raw text otherwise."""
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :])
    return secret.encode()


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature a sender would put in `webhook-signature`."""
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key_bytes(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_standard(
    secrets_: Iterable[str],
    msg_id: str | None,
    timestamp: str | None,
    signature_header: str | None,
    body: bytes,
    tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless one signature matches one secret within the tolerance."""
    if not msg_id or not timestamp or not signature_header:
        raise SignatureError(
            "missing_signature", "webhook-id, webhook-timestamp and webhook-signature are required"
        )
    if len(msg_id) > 255:
        raise SignatureError("bad_signature", "webhook-id is too long")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise SignatureError("bad_timestamp", "webhook-timestamp must be Unix seconds") from exc
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise SignatureError("stale_timestamp", "webhook-timestamp is outside the allowed window")
    offered = []
    for entry in signature_header.split():
        version, _, value = entry.partition(",")
        if version == "v1" and value:
            offered.append(value.encode())
    if not offered:
        raise SignatureError("bad_signature", "no v1 signature in webhook-signature")
    for secret in secrets_:
        expected = sign_standard(secret, msg_id, sent_at, body)[3:].encode()
        # Compare against every offered value in constant time; do not stop early on a secret.
        if any(hmac.compare_digest(expected, value) for value in offered):
            return
    raise SignatureError("bad_signature", "the signature does not match")


def sign_hub(secret: str, body: bytes) -> str:
    """Mastodon's `X-Hub-Signature` value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_hub(secrets_: Iterable[str], header: str | None, body: bytes) -> None:
    """Raise SignatureError unless `X-Hub-Signature` is a valid sha256 HMAC under a secret."""
    if not header or not header.startswith("sha256="):
        raise SignatureError("missing_signature", "X-Hub-Signature (sha256=...) is required")
    offered = header.encode()
    for secret in secrets_:
        if hmac.compare_digest(sign_hub(secret, body).encode(), offered):
            return
    raise SignatureError("bad_signature", "the signature does not match")
