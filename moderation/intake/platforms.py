"""Registering platforms and authenticating their requests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Platform, PlatformKind, utcnow
from moderation.audit import events as audit
from moderation.core.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from moderation.core.secret_strength import weak_key_reason, weak_text_reason
from moderation.core.tokens import new_token, token_digest
from moderation.intake.signatures import SECRET_PREFIX, new_webhook_secret, secret_key_bytes

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
ROTATION_GRACE = timedelta(days=7)
# A secret an operator types (Mastodon asks for one): anything shorter is guessable offline from
# one signed delivery. Generated `whsec_` secrets carry 24 random bytes.
MIN_TYPED_SECRET_LENGTH = 20
MIN_SECRET_KEY_BYTES = 16


def check_secret_strength(secret: str) -> None:
    """Raise ValidationError (code weak_secret) for a signing secret that is short or
    predictable: a typed one under MIN_TYPED_SECRET_LENGTH characters or a repeated pattern, a
    `whsec_` one that is not base64 of at least MIN_SECRET_KEY_BYTES random-looking bytes."""
    if secret.startswith(SECRET_PREFIX):
        try:
            raw = secret_key_bytes(secret)
        except ValueError as exc:
            raise ValidationError(
                "a whsec_ secret must be base64 after the prefix", code="weak_secret"
            ) from exc
        if len(raw) < MIN_SECRET_KEY_BYTES:
            raise ValidationError(
                f"a whsec_ secret must hold at least {MIN_SECRET_KEY_BYTES} bytes",
                code="weak_secret",
            )
        weak = weak_key_reason(raw)
    else:
        weak = weak_text_reason(secret, MIN_TYPED_SECRET_LENGTH)
    if weak:
        raise ValidationError(f"the signing secret {weak}", code="weak_secret")


@dataclass(frozen=True)
class PlatformCredentials:
    """Shown once at creation; only the token's digest is stored."""

    slug: str
    kind: str
    webhook_secret: str
    api_token: str
    # The outbound secret decision callbacks are signed with; only with a callback URL.
    callback_secret: str | None = None


def validate_callback_url(url: str) -> str:
    """A callback URL as stored: http(s), a host, no credentials, at most 2048 characters.
    Whether its address may be called is checked at every delivery (the SSRF rules of the
    fetcher), not here: DNS can change. Raises ValidationError."""
    from urllib.parse import urlsplit

    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError("the callback URL is malformed", code="invalid_callback") from None
    if (
        len(url) > 2048
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or (port is not None and not 0 < port < 65536)
    ):
        raise ValidationError(
            "the callback URL must be an http(s) URL with a host and no credentials",
            code="invalid_callback",
        )
    return url


def create_platform(
    session: Session,
    slug: str,
    kind: str = PlatformKind.STANDARD,
    secret: str | None = None,
    callback_url: str | None = None,
) -> PlatformCredentials:
    """Create a platform and commit. Raises ValidationError or ConflictError."""
    if not SLUG_RE.match(slug):
        raise ValidationError("slug must be 2-63 lowercase letters, digits or hyphens")
    if kind not in set(PlatformKind):
        raise ValidationError(f"kind must be one of {', '.join(PlatformKind)}")
    if session.execute(select(Platform.id).where(Platform.slug == slug)).first():
        raise ConflictError(f"platform {slug} already exists")
    if kind == PlatformKind.MASTODON and not secret:
        # Mastodon asks the admin to type the secret in; we cannot choose it for them.
        raise ValidationError("a mastodon platform needs --secret (the one set in Mastodon)")
    if secret is not None:
        check_secret_strength(secret)
    webhook_secret = secret or new_webhook_secret()
    callback_url = validate_callback_url(callback_url) if callback_url else None
    callback_secret = new_webhook_secret() if callback_url else None
    api_token = new_token("mq_")
    platform = Platform(
        slug=slug,
        kind=kind,
        api_token_hash=token_digest(api_token),
        webhook_secret=webhook_secret,
        callback_url=callback_url,
        callback_secret=callback_secret,
    )
    session.add(platform)
    session.flush()
    audit.record(
        session, "platform.create", actor_kind="cli", object_type="platform", object_id=platform.id
    )
    session.commit()
    return PlatformCredentials(slug, kind, webhook_secret, api_token, callback_secret)


def rotate_secret(session: Session, slug: str, secret: str | None = None) -> str:
    """Make a new signing secret current; the old one stays valid for ROTATION_GRACE."""
    if secret is not None:
        check_secret_strength(secret)
    platform = get_platform(session, slug)
    platform.previous_webhook_secret = platform.webhook_secret
    platform.previous_secret_expires_at = utcnow() + ROTATION_GRACE
    platform.webhook_secret = secret or new_webhook_secret()
    audit.record(
        session,
        "platform.rotate_secret",
        actor_kind="cli",
        object_type="platform",
        object_id=platform.id,
    )
    session.commit()
    return platform.webhook_secret


def get_platform(session: Session, slug: str) -> Platform:
    """The active platform `slug`; raises NotFoundError."""
    platform = session.execute(
        select(Platform).where(Platform.slug == slug, Platform.active.is_(True))
    ).scalar_one_or_none()
    if platform is None:
        raise NotFoundError("no such platform")
    return platform


def valid_secrets(platform: Platform) -> list[str]:
    """The signing secrets accepted now: the current one and, during rotation, the previous."""
    found = [platform.webhook_secret]
    if (
        platform.previous_webhook_secret
        and platform.previous_secret_expires_at
        and platform.previous_secret_expires_at > utcnow()
    ):
        found.append(platform.previous_webhook_secret)
    return found


def authenticate_token(session: Session, slug: str, authorization: str | None) -> Platform:
    """The platform for a `Bearer` token; raises AuthenticationError (unknown slug answers the
    same, so tokens cannot be used to probe which platforms exist)."""
    if not authorization or not authorization.startswith("Bearer "):
        raise AuthenticationError("Authorization: Bearer <api_token> is required")
    digest = token_digest(authorization[len("Bearer ") :].strip())
    platform = session.execute(
        select(Platform).where(Platform.api_token_hash == digest, Platform.active.is_(True))
    ).scalar_one_or_none()
    if platform is None or platform.slug != slug:
        raise AuthenticationError("the API token is not valid for this platform")
    return platform
