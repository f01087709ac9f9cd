"""Device cookies, OWASP's answer to targeted lockouts: a browser that once proved it belongs to
someone (signed in, filed a report) carries a signed cookie naming the throttle subjects it
proved (`email:<digest>`, `receipt:<digest>`), and the per-account or per-receipt limit gives
that browser a budget of its own. A stranger's failures then cannot lock the owner out, while
strangers (and anyone holding one stolen cookie) stay throttled.

The cookie holds only keyed digests and a random device id, never an email or receipt number.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

# How many subjects one browser remembers: a shared office computer, a few people.
MAX_SUBJECTS = 8


@dataclass(frozen=True)
class Device:
    device_id: str
    subjects: tuple[str, ...]

    def throttle_key(self, subject: str) -> str | None:
        """The key of this browser's own budget for `subject`, or None if it never proved it."""
        return f"device:{self.device_id}:{subject}" if subject in self.subjects else None


def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"moderation-queue/device-cookie/{purpose}")


def read_device(secret_key: str, purpose: str, value: str | None, max_age: int) -> Device | None:
    """The device behind a cookie value, or None if it is missing, forged, for another purpose
    or older than `max_age` seconds."""
    if not value:
        return None
    try:
        payload = _serializer(secret_key, purpose).loads(value, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    device_id, subjects = payload.get("d"), payload.get("s")
    if not isinstance(device_id, str) or not isinstance(subjects, list):
        return None
    return Device(device_id, tuple(str(subject) for subject in subjects))


def device_cookie_value(
    secret_key: str, purpose: str, subjects: tuple[str, ...], previous: Device | None
) -> str:
    """A fresh cookie value proving `subjects` (newest first) plus what `previous` proved, kept
    to MAX_SUBJECTS; the device id stays the same for a browser that has one."""
    merged = list(dict.fromkeys(subjects + (previous.subjects if previous else ())))
    device_id = previous.device_id if previous else secrets.token_urlsafe(16)
    payload = {"d": device_id, "s": merged[:MAX_SUBJECTS]}
    return _serializer(secret_key, purpose).dumps(payload)
