"""Invitations: an admin creates an account with a one-time enrolment link; the invitee sets a
password and enrols TOTP there. The same link resets a person's sign-in (lost phone)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Invitation, User, utcnow
from moderation.accounts import totp
from moderation.accounts.passwords import hash_password
from moderation.accounts.settings import AccountSettings
from moderation.accounts.signin import SignIn, confirm_enrolment
from moderation.accounts.users import (
    UNUSABLE_PASSWORD,
    check_new_password,
    check_role,
    email_words,
    ensure_new_email,
    get_user,
    normalise_email,
    open_session,
    revoke_all_sessions,
)
from moderation.audit import events as audit
from moderation.core.errors import NotFoundError
from moderation.core.tokens import new_token, token_digest


@dataclass(frozen=True)
class IssuedInvitation:
    user: User
    token: str  # shown to the admin once; only its digest is stored


def _issue(session: Session, settings: AccountSettings, user: User, actor_user_id: int) -> str:
    # One live link per person: older ones stop working when a new one is issued.
    session.execute(
        update(Invitation)
        .where(Invitation.user_id == user.id, Invitation.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    token = new_token("inv_")
    session.add(
        Invitation(
            user_id=user.id,
            invited_by_id=actor_user_id,
            token_hash=token_digest(token),
            expires_at=utcnow() + settings.invite_ttl,
        )
    )
    return token


def invite(
    session: Session, settings: AccountSettings, actor_user_id: int, email: str, role: str
) -> IssuedInvitation:
    """Create an account that cannot sign in until its invitee uses the link; commits.
    Raises ValidationError or ConflictError."""
    email = normalise_email(email)
    check_role(role)
    ensure_new_email(session, email)
    user = User(email=email, role=role, password_hash=UNUSABLE_PASSWORD, totp_enabled=False)
    session.add(user)
    session.flush()
    token = _issue(session, settings, user, actor_user_id)
    audit.record(
        session,
        "user.invite",
        actor_user_id=actor_user_id,
        object_type="user",
        object_id=user.id,
        details={"role": role},
    )
    session.commit()
    return IssuedInvitation(user, token)


def reset_sign_in(
    session: Session, settings: AccountSettings, actor_user_id: int, user_id: int
) -> IssuedInvitation:
    """For a person who lost their phone or password: remove password and second factor, end
    all sessions and issue a fresh enrolment link; commits."""
    user = get_user(session, user_id)
    user.password_hash = UNUSABLE_PASSWORD
    user.totp_secret_sealed = None
    user.totp_enabled = False
    user.last_totp_step = None
    for code in list(user.recovery_codes):
        session.delete(code)
    revoked = revoke_all_sessions(session, user.id)
    token = _issue(session, settings, user, actor_user_id)
    audit.record(
        session,
        "user.sign_in_reset",
        actor_user_id=actor_user_id,
        object_type="user",
        object_id=user.id,
        details={"sessions_revoked": revoked},
    )
    session.commit()
    return IssuedInvitation(user, token)


def invitation_user(session: Session, token: str) -> User:
    """The account a live link belongs to. Raises NotFoundError for an unknown, used or
    expired link, or a disabled account (one answer for all, so links cannot be probed)."""
    row = session.execute(
        select(Invitation).where(Invitation.token_hash == token_digest(token))
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise NotFoundError("this link is unknown, used or expired")
    user = get_user(session, row.user_id)
    if not user.active:
        raise NotFoundError("this link is unknown, used or expired")
    return user


def enrolment_secret(session: Session, settings: AccountSettings, token: str) -> tuple[User, str]:
    """The invitee and their pending TOTP secret (created once, kept until confirmed)."""
    user = invitation_user(session, token)
    if user.totp_secret_sealed is None:
        totp.set_new_secret(settings.totp_config, user)
        session.commit()
    return user, totp.open_secret(settings.totp_config, user)


def accept(
    session: Session, settings: AccountSettings, token: str, password: str, code: str
) -> SignIn:
    """Set the password, confirm TOTP, spend the link and open a session; commits all of it or
    nothing. Raises NotFoundError, ValidationError or AuthenticationError."""
    user = invitation_user(session, token)
    check_new_password(password, email_words(user.email))
    codes = confirm_enrolment(session, settings, user, code)
    spent = session.execute(
        update(Invitation)
        .where(Invitation.token_hash == token_digest(token), Invitation.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        session.rollback()
        raise NotFoundError("this link is unknown, used or expired")
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    session_token = open_session(session, user)
    audit.record(
        session,
        "user.invite_accepted",
        actor_user_id=user.id,
        object_type="user",
        object_id=user.id,
    )
    session.commit()
    return SignIn(user, session_token, codes)
