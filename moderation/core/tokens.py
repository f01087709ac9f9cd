"""Random tokens and their stored digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What we store for a bearer or session token: its SHA-256 (tokens are high-entropy, so no
    slow hash is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_digest(key: str, value: str) -> str:
    """An HMAC of `value`, for recording e.g. a failed login's email without storing it."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()
