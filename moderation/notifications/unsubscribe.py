"""Unsubscribe links: a signed token carrying only the random unsubscribe key of a person's
preferences (never an id or an address), so the link works signed out, names no one, and a
forged or altered one is refused."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from moderation.notifications.settings import NotificationSettings

_SALT = "moderation-queue/unsubscribe"


def _serializer(settings: NotificationSettings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt=_SALT)


def make_token(settings: NotificationSettings, key: str) -> str:
    return _serializer(settings).dumps(key)


def read_token(settings: NotificationSettings, token: str) -> str | None:
    """The unsubscribe key in a token, or None if it is forged, altered or malformed."""
    try:
        key = _serializer(settings).loads(token)
    except BadSignature:
        return None
    return key if isinstance(key, str) and 16 <= len(key) <= 64 else None
