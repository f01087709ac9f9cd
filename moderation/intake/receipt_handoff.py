"""Handing a new portal receipt (number and PIN) from the POST that made it to the page that
shows it once, without putting either in the browser's cookie.

Flask's session is a signed but readable cookie, so the receipt stays server-side: Redis holds it
for a few minutes under a random one-time token, encrypted (AES-GCM under a key derived from
SECRET_KEY, the token bound as associated data) so a Redis dump does not reveal PINs either; the
session carries only the token, and showing the page deletes the entry (GETDEL), so a copied
cookie cannot show the receipt a second time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis import Redis

HANDOFF_SECONDS = 600
_NONCE = 12


def _key(secret_key: str) -> bytes:
    return hmac.digest(secret_key.encode(), b"moderation portal receipt handoff", "sha256")


def _redis_key(token: str) -> str:
    return "moderation:receipt-handoff:" + hashlib.sha256(token.encode()).hexdigest()


def hand_over(redis: Redis, secret_key: str, number: str, pin: str) -> str:
    """Keep the receipt for one showing; returns the token to put in the session."""
    token = secrets.token_urlsafe(24)
    nonce = secrets.token_bytes(_NONCE)
    sealed = AESGCM(_key(secret_key)).encrypt(
        nonce, json.dumps({"number": number, "pin": pin}).encode(), token.encode()
    )
    redis.set(_redis_key(token), nonce + sealed, ex=HANDOFF_SECONDS)
    return token


def take(redis: Redis, secret_key: str, token: object) -> tuple[str, str] | None:
    """The receipt for `token`, once; None if unknown, expired, already shown or tampered with."""
    if not isinstance(token, str) or not token:
        return None
    blob = redis.getdel(_redis_key(token))
    if not blob or len(blob) <= _NONCE:
        return None
    try:
        opened = AESGCM(_key(secret_key)).decrypt(blob[:_NONCE], blob[_NONCE:], token.encode())
    except InvalidTag:
        return None
    value = json.loads(opened)
    return str(value["number"]), str(value["pin"])
