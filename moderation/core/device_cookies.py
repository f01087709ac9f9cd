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


@dataclass(frozen=True)
class BrowserDevice:
    """One kind of device cookie as a view uses it: its cookie name, its purpose (the signing
    salt) and the endpoint whose path scopes it. The sign-in, portal and protect pages each
    have one; the key signs it (a keyed-digest key or SECRET_KEY)."""

    cookie: str
    purpose: str
    endpoint: str

    @staticmethod
    def max_age() -> int:
        from flask import current_app

        return int(float(current_app.config["DEVICE_COOKIE_DAYS"]) * 86400)

    def read(self, key: str) -> Device | None:
        """This request's browser device, if it carries a valid cookie."""
        from flask import request

        return read_device(key, self.purpose, request.cookies.get(self.cookie), self.max_age())

    def throttle_key(self, key: str, subject: str) -> str:
        """The throttle key for `subject`: this browser's own budget if it proved the subject
        before, else the subject's shared one."""
        device = self.read(key)
        return (device.throttle_key(subject) if device else None) or subject

    def remember(self, key: str, subjects: tuple[str, ...]) -> None:
        """Set (on this request's response) a cookie proving `subjects` too."""
        from flask import Response, after_this_request, current_app, url_for

        value = device_cookie_value(key, self.purpose, subjects, self.read(key))
        path = url_for(self.endpoint)

        @after_this_request
        def _set(response: Response) -> Response:
            response.set_cookie(
                self.cookie,
                value,
                max_age=self.max_age(),
                path=path,
                secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
                httponly=True,
                samesite="Strict",
            )
            return response
