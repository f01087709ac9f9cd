"""Sign-in in two steps: the password, then a TOTP or recovery code (or, for an account that
has no second factor yet, enrolment). Only the second step opens a server-side session."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import User
from moderation.accounts import totp
from moderation.accounts.passwords import hash_password, needs_rehash, verify_password
from moderation.accounts.settings import AccountSettings
from moderation.accounts.users import get_user, open_session, reauthenticate
from moderation.audit import events as audit
from moderation.core.errors import AuthenticationError, ConflictError


@dataclass(frozen=True)
class SignIn:
    user: User
    session_token: str
    recovery_codes: list[str] = field(default_factory=list)


def check_password(session: Session, settings: AccountSettings, email: str, password: str) -> User:
    """First step: the account behind `email` if the password is right and it is active.

    Raises AuthenticationError (one message for every failure). The audit trail records
    failures with a keyed digest of the email, never the email itself. Commits.
    """
    email = email.strip().lower()
    user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        audit.record(
            session,
            "auth.login_failed",
            actor_user_id=user.id if user else None,
            actor_kind="anonymous",
            details={
                "email_digest": settings.email_digest(email),
                "step": "password",
            },
        )
        session.commit()
        raise AuthenticationError("the email or password is wrong")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.commit()
    return user


def _pending_user(session: Session, user_id: int) -> User:
    user = get_user(session, user_id)
    if not user.active:
        raise AuthenticationError("this account is disabled")
    return user


def complete_with_code(
    session: Session, settings: AccountSettings, user_id: int, code: str
) -> SignIn:
    """Second step for an enrolled account: a current TOTP code (each step once) or an unused
    recovery code (each once). Opens a session and commits. Raises AuthenticationError."""
    user = _pending_user(session, user_id)
    if not user.totp_enabled:
        raise AuthenticationError("two-factor sign-in is not set up for this account")
    method = None
    if totp.check_code(session, settings.totp_config, user, code):
        method = "totp"
    elif totp.use_recovery_code(session, user, code):
        method = "recovery_code"
    if method is None:
        audit.record(
            session,
            "auth.login_failed",
            actor_user_id=user.id,
            actor_kind="anonymous",
            details={"step": "second_factor"},
        )
        session.commit()
        raise AuthenticationError("that code is wrong or was already used")
    token = _signed_in(session, user, method)
    return SignIn(user, token)


def _signed_in(session: Session, user: User, method: str) -> str:
    """Open a server-side session for `user`, audit the sign-in and commit; the session token."""
    token = open_session(session, user)
    audit.record(
        session,
        "auth.login",
        actor_user_id=user.id,
        object_type="user",
        object_id=user.id,
        details={"method": method},
    )
    session.commit()
    return token


def enrolment_secret(session: Session, settings: AccountSettings, user: User) -> str:
    """The not-yet-confirmed secret of an account without a second factor, created on first
    call and kept until confirmed (so reloading the page shows the same QR code). Commits."""
    if user.totp_enabled:
        raise ConflictError("two-factor sign-in is already set up", code="totp_enrolled")
    if user.totp_secret_sealed is None:
        totp.set_new_secret(settings.totp_config, user)
        session.commit()
    return totp.open_secret(settings.totp_config, user)


def confirm_enrolment(
    session: Session, settings: AccountSettings, user: User, code: str
) -> list[str]:
    """Enable TOTP once the person proves their app shows the right code; issues recovery
    codes (returned once) and audits. The caller opens a session and commits.
    Raises AuthenticationError for a wrong code."""
    if user.totp_enabled:
        raise ConflictError("two-factor sign-in is already set up", code="totp_enrolled")
    if not totp.check_code(session, settings.totp_config, user, code):
        raise AuthenticationError("that code is wrong; check the time on your phone")
    user.totp_enabled = True
    codes = totp.new_recovery_codes(session, user)
    audit.record(
        session, "auth.totp_enrolled", actor_user_id=user.id, object_type="user", object_id=user.id
    )
    return codes


def complete_with_enrolment(
    session: Session, settings: AccountSettings, user_id: int, code: str
) -> SignIn:
    """Second step for a legacy account without a second factor: confirm enrolment, then open
    a session; commits. Raises AuthenticationError."""
    user = _pending_user(session, user_id)
    codes = confirm_enrolment(session, settings, user, code)
    token = _signed_in(session, user, "enrolment")
    return SignIn(user, token, codes)


def regenerate_recovery_codes(
    session: Session, settings: AccountSettings, user_id: int, password: str, code: str
) -> list[str]:
    """Replace the signed-in user's recovery codes once they prove who they are again (password
    and a TOTP or recovery code, see `users.reauthenticate`); commits and returns the new codes
    (shown once). Raises AuthenticationError."""
    user = get_user(session, user_id)
    reauthenticate(session, settings, user, password, code, "recovery_codes")
    codes = totp.new_recovery_codes(session, user)
    audit.record(
        session,
        "auth.recovery_codes_regenerated",
        actor_user_id=user.id,
        object_type="user",
        object_id=user.id,
    )
    session.commit()
    return codes
