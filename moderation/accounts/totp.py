"""TOTP two-factor sign-in: secrets sealed at rest, codes checked once, recovery codes hashed.

Secrets are sealed with AES-256-GCM under a key derived by HKDF-SHA256 from MEDIA_KEY (the
deployment's key-encryption key, which must never be rotated casually; SECRET_KEY may be rotated
to end all sessions without losing everyone's second factor). The user id is the associated
data, so a sealed secret copied onto another row does not open.
"""

from __future__ import annotations

import base64
import hmac
import io
import secrets
import time
from collections.abc import Mapping
from typing import Any

import pyotp
import qrcode
import qrcode.image.svg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from models import RecoveryCode, User, utcnow
from moderation.config import decode_media_key
from moderation.core.errors import ConflictError
from moderation.core.tokens import token_digest

_SEAL_VERSION = b"\x01"
_HKDF_INFO = b"moderation-queue/totp-secret/v1"
STEP_SECONDS = 30
# Accept the previous and next step too: phones drift and people type slowly.
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper


def _sealing_key(config: Mapping[str, Any]) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        decode_media_key(config["MEDIA_KEY"])
    )


def _aad(user_id: int) -> bytes:
    return f"user:{user_id}".encode()


def seal_secret(config: Mapping[str, Any], user_id: int, secret: str) -> bytes:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_sealing_key(config)).encrypt(nonce, secret.encode(), _aad(user_id))
    return _SEAL_VERSION + nonce + sealed


def open_secret(config: Mapping[str, Any], user: User) -> str:
    """The user's base32 TOTP secret. Raises ConflictError if none is set or it does not open
    (wrong MEDIA_KEY or a tampered row)."""
    sealed = user.totp_secret_sealed
    if not sealed or sealed[:1] != _SEAL_VERSION:
        raise ConflictError("two-factor sign-in is not set up for this account", code="no_totp")
    try:
        plain = AESGCM(_sealing_key(config)).decrypt(sealed[1:13], sealed[13:], _aad(user.id))
    except InvalidTag as exc:
        raise ConflictError("the two-factor secret cannot be opened", code="totp_sealed") from exc
    return plain.decode()


def set_new_secret(config: Mapping[str, Any], user: User) -> str:
    """Give `user` (flushed, so it has an id) a fresh secret, not yet enabled; returns it."""
    secret = pyotp.random_base32()
    user.totp_secret_sealed = seal_secret(config, user.id, secret)
    user.totp_enabled = False
    user.last_totp_step = None
    return secret


def provisioning_uri(config: Mapping[str, Any], user: User) -> str:
    """The otpauth:// URI an authenticator app (or a provisioning script) imports."""
    issuer = str(config.get("TOTP_ISSUER") or "Moderation queue")
    totp = pyotp.TOTP(open_secret(config, user))
    return totp.provisioning_uri(name=user.email, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The URI as a QR code in an SVG data: URI, drawn here (no third-party request; the CSP
    allows img-src data:)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def code_at_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def check_code(
    session: Session, config: Mapping[str, Any], user: User, code: str, now: float | None = None
) -> bool:
    """Accept a 6-digit code from the previous, current or next step that is later than the last
    accepted step, and record that step (the caller commits). A code from an already used step
    is refused, so a code seen over a shoulder or in a proxy log cannot be replayed; the step is
    claimed with a conditional UPDATE, so two racing sign-ins cannot both spend it."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return False
    secret = open_secret(config, user)
    step_now = current_step(now)
    for step in range(step_now - VALID_WINDOW, step_now + VALID_WINDOW + 1):
        if user.last_totp_step is not None and step <= user.last_totp_step:
            continue
        if not hmac.compare_digest(code_at_step(secret, step), code):
            continue
        claimed = session.execute(
            update(User)
            .where(
                User.id == user.id,
                or_(User.last_totp_step.is_(None), User.last_totp_step < step),
            )
            .values(last_totp_step=step)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return False
        user.last_totp_step = step
        return True
    return False


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def new_recovery_codes(session: Session, user: User) -> list[str]:
    """Replace the user's recovery codes with fresh ones (the caller commits); returns their
    text, which is shown once and never stored."""
    for old in list(user.recovery_codes):
        session.delete(old)
    session.flush()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
        session.add(RecoveryCode(user_id=user.id, code_hash=token_digest(raw)))
    return codes


def use_recovery_code(session: Session, user: User, code: str) -> bool:
    """Spend one unused recovery code of `user` (the caller commits); False if none matches."""
    normalised = normalise_recovery_code(code)
    if len(normalised) != 16:
        return False
    spent = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == token_digest(normalised),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    # A conditional UPDATE, so the same code presented twice at once is spent only once.
    return spent.rowcount == 1


def unused_recovery_codes(session: Session, user_id: int) -> int:
    rows = session.execute(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
        )
    ).all()
    return len(rows)
