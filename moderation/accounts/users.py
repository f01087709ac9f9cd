"""Staff accounts: creation, roles, disabling, passwords and server-side sessions.

Sign-in steps live in moderation/accounts/signin.py, invitations in invitations.py.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import Role, User, UserSession, utcnow
from moderation.accounts import totp
from moderation.accounts.passwords import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    too_guessable,
    verify_password,
)
from moderation.accounts.settings import AccountSettings
from moderation.audit import events as audit
from moderation.core.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from moderation.core.tokens import new_token, token_digest

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Stored as password_hash until an invitee chooses a password; no argon2 hash ever equals it.
UNUSABLE_PASSWORD = "!unusable"  # noqa: S105 - a marker, not a credential
MAX_PASSWORD_LENGTH = 1024


def normalise_email(email: str) -> str:
    """Lower-cased, trimmed email; raises ValidationError if it is not an address."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 320:
        raise ValidationError("that is not an email address", code="invalid_input")
    return email


def check_role(role: str) -> Role:
    if role not in set(Role):
        raise ValidationError(f"role must be one of {', '.join(Role)}", code="invalid_input")
    return Role(role)


class PasswordRejected(ValidationError):
    """A new password the policy refuses; `reason` is `too_short`, `too_long` or `too_common`,
    for pages that say it in the reader's language."""

    def __init__(self, message: str, *, reason: str, code: str = "invalid_input"):
        super().__init__(message, code=code)
        self.reason = reason


def email_words(email: str | None) -> tuple[str, ...]:
    if not email:
        return ()
    local, _, domain = email.partition("@")
    return (email, local, *domain.split("."))


def check_new_password(password: str, user_inputs: tuple[str, ...] = ()) -> None:
    """Refuse a new password that is too short, too long, or common or easily guessed (also
    from `user_inputs`, e.g. the account's email). Raises PasswordRejected."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters", reason="too_short"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRejected("the password is too long", reason="too_long")
    if too_guessable(password, user_inputs):
        raise PasswordRejected(
            "this password is too common or too easy to guess; choose a longer one, such as a"
            " few unrelated words",
            reason="too_common",
            code="weak_password",
        )


def ensure_new_email(session: Session, email: str) -> None:
    if session.execute(select(User.id).where(User.email == email)).first():
        raise ConflictError("a user with that email exists")


def create_user(
    session: Session,
    settings: AccountSettings,
    email: str,
    role: str,
    password: str,
    *,
    actor_user_id: int | None = None,
    actor_kind: str = "cli",
) -> User:
    """Create an active staff account with TOTP enrolled, and commit.

    The new secret's otpauth:// URI is `totp.provisioning_uri(settings.totp_config, user)`;
    whoever runs this hands it to the person. Raises ValidationError or ConflictError.
    """
    email = normalise_email(email)
    check_role(role)
    check_new_password(password, email_words(email))
    ensure_new_email(session, email)
    user = User(
        email=email, role=role, password_hash=hash_password(password), password_changed_at=utcnow()
    )
    session.add(user)
    session.flush()
    totp.set_new_secret(settings.totp_config, user)
    user.totp_enabled = True
    audit.record(
        session,
        "user.create",
        actor_user_id=actor_user_id,
        actor_kind=actor_kind,
        object_type="user",
        object_id=user.id,
        details={"role": role, "totp": True},
    )
    session.commit()
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("no such user")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.email)).scalars())


def sign_in_facts(session: Session) -> tuple[dict[int, datetime], dict[int, datetime]]:
    """For the staff page: each user's last sign-in (their newest session) and, for invitees
    who have not set up yet, when their open invitation expires (missing: none open)."""
    from sqlalchemy import func

    from models import Invitation

    last = dict(
        session.execute(
            select(UserSession.user_id, func.max(UserSession.created_at)).group_by(
                UserSession.user_id
            )
        ).all()
    )
    pending = dict(
        session.execute(
            select(Invitation.user_id, func.max(Invitation.expires_at))
            .where(Invitation.used_at.is_(None), Invitation.expires_at > utcnow())
            .group_by(Invitation.user_id)
        ).all()
    )
    return last, pending


def open_session(session: Session, user: User) -> str:
    """Add a server-side session row for `user` (the caller commits); returns the token."""
    token = new_token()
    session.add(UserSession(user_id=user.id, token_hash=token_digest(token)))
    return token


def revoke_all_sessions(session: Session, user_id: int) -> int:
    """Revoke every live session of the user (the caller commits); returns how many."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def load_session_user(session: Session, settings: AccountSettings, token: str) -> User | None:
    """The user behind a live session token, or None if revoked, idle longer than
    SESSION_IDLE_MINUTES, older than SESSION_MAX_DAYS, disabled, or without two-factor sign-in
    (a legacy session)."""
    row = session.execute(
        select(UserSession).where(UserSession.token_hash == token_digest(token))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    user = row.user
    if (
        now - row.last_seen_at > settings.idle_timeout
        or now - row.created_at > settings.session_lifetime
        or not user.active
        or not user.totp_enabled
    ):
        return None
    # Touch at most once a minute: a write per request would serialise SQLite.
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
        session.commit()
    return user


def sign_out(session: Session, token: str, user_id: int) -> None:
    """Revoke the session behind `token` and commit."""
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == token_digest(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    audit.record(
        session, "auth.logout", actor_user_id=user_id, object_type="user", object_id=user_id
    )
    session.commit()


def reauthenticate(
    session: Session, settings: AccountSettings, user: User, password: str, code: str, purpose: str
) -> None:
    """Ask a signed-in person to prove again who they are before a sensitive action (`purpose`,
    e.g. `password_change`): their password and a current TOTP code or an unused recovery code,
    so a stolen session cookie is not enough. The code is checked only after the password, so a
    typo in the password does not spend the code's step. On success the code's step (or the
    recovery code) is spent and the caller commits; on failure an `auth.reauth_failed` event is
    committed and AuthenticationError raised (one message for both parts)."""
    proven = verify_password(user.password_hash, password) and (
        totp.check_code(session, settings.totp_config, user, code)
        or totp.use_recovery_code(session, user, code)
    )
    if not proven:
        audit.record(
            session,
            "auth.reauth_failed",
            actor_user_id=user.id,
            object_type="user",
            object_id=user.id,
            details={"purpose": purpose},
        )
        session.commit()
        raise AuthenticationError("the password or the code is wrong")


def change_password(
    session: Session, settings: AccountSettings, user_id: int, current: str, code: str, new: str
) -> str:
    """Check the new password against the policy, then the current password and a second-factor
    code (`reauthenticate`); store the new one, revoke every session of the user (other browsers
    included) and open a fresh one for this browser; commits and returns its token.
    Raises PasswordRejected (before any secret is checked, so a refused new password spends no
    code) or AuthenticationError."""
    user = get_user(session, user_id)
    check_new_password(new, email_words(user.email))
    reauthenticate(session, settings, user, current, code, "password_change")
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    revoked = revoke_all_sessions(session, user.id)
    token = open_session(session, user)
    audit.record(
        session,
        "user.password_change",
        actor_user_id=user.id,
        object_type="user",
        object_id=user.id,
        details={"sessions_revoked": revoked},
    )
    session.commit()
    return token


def _active_admins(session: Session) -> int:
    return int(
        session.execute(
            select(func.count(User.id)).where(User.role == Role.ADMIN.value, User.active.is_(True))
        ).scalar_one()
    )


def set_active(session: Session, actor_user_id: int, user_id: int, active: bool) -> User:
    """Enable or disable an account and commit; disabling revokes all its sessions at once.
    Raises ConflictError for disabling oneself (it would lock the last admin out)."""
    user = get_user(session, user_id)
    if user.id == actor_user_id and not active:
        raise ConflictError("you cannot disable your own account")
    if user.active == active:
        return user
    user.active = active
    revoked = 0 if active else revoke_all_sessions(session, user.id)
    audit.record(
        session,
        "user.enable" if active else "user.disable",
        actor_user_id=actor_user_id,
        object_type="user",
        object_id=user.id,
        details={"sessions_revoked": revoked},
    )
    session.commit()
    return user


def change_role(session: Session, actor_user_id: int, user_id: int, role: str) -> User:
    """Give an account another role and commit; the change applies to its next request.
    Raises ValidationError, or ConflictError for changing one's own role (so the last admin
    cannot demote themselves)."""
    new_role = check_role(role)
    user = get_user(session, user_id)
    if user.id == actor_user_id:
        raise ConflictError("you cannot change your own role")
    old_role = str(user.role)
    if old_role == new_role:
        return user
    if old_role == Role.ADMIN and user.active and _active_admins(session) <= 1:
        raise ConflictError("the last active admin cannot lose the admin role")
    user.role = new_role
    audit.record(
        session,
        "user.role_change",
        actor_user_id=actor_user_id,
        object_type="user",
        object_id=user.id,
        details={"from": old_role, "to": str(new_role)},
    )
    session.commit()
    return user
