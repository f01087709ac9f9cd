"""Mail about a person's own account: the invitation link (the same single-use link the admin
sees once), a sign-in from a browser the account was not used from before, and a changed
password. Each is recorded in the outbox (its own commit, after the account change committed)
and returns the outbox id for the caller to hand to the `mail` queue.

The invitation link is a secret: it travels sealed on the outbox row and is dropped once sent,
so the outbox never holds a usable link in the clear (the invitations table keeps only its
digest, as before).
"""

from __future__ import annotations

import secrets
from datetime import UTC

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Invitation, MailKind, User, utcnow
from moderation.core.tokens import token_digest
from moderation.notifications import outbox, preferences
from moderation.notifications.settings import NotificationSettings


def _person(
    session: Session, user_id: int, settings: NotificationSettings
) -> tuple[User, preferences.Preferences] | None:
    user = session.get(User, user_id)
    if user is None:
        return None
    return user, preferences.get(session, user_id, settings)


def _record(
    session: Session,
    settings: NotificationSettings,
    user_id: int,
    kind: MailKind,
    context: dict,
    sealed: dict | None = None,
) -> int | None:
    found = _person(session, user_id, settings)
    if found is None:
        return None
    _, prefs = found
    session.rollback()  # end the reads: the record is its own transaction
    row = outbox.record(
        session,
        settings,
        kind=kind,
        recipient_key=f"user:{user_id}",
        user_id=user_id,
        # Each event is its own period: a random suffix, as two sign-ins are two events.
        period=f"{kind}:{utcnow():%Y%m%dT%H%M%S}:{secrets.token_hex(4)}",
        language=prefs.language,
        context={**context, "time_zone": prefs.time_zone},
        sealed=sealed,
    )
    return row.id if row is not None else None


def invitation_link(settings: NotificationSettings, token: str) -> str:
    """The enrolment link of an invitation token, as views/auth.invitation_url makes it: the
    token in the fragment, which browsers never send (it stays out of access logs)."""
    return settings.link("/invite") + "#" + token


def notify_invitation(
    session: Session, settings: NotificationSettings, user_id: int, token: str
) -> int | None:
    """Email the invitee their enrolment link (a new account's, or a reset one's); returns the
    outbox id, or None if the link is not live."""
    invitation = session.execute(
        select(Invitation).where(Invitation.token_hash == token_digest(token))
    ).scalar_one_or_none()
    user = session.get(User, user_id)
    if invitation is None or user is None or invitation.user_id != user_id:
        return None
    return _record(
        session,
        settings,
        user_id,
        MailKind.INVITATION,
        {"role": str(user.role), "expires_at": invitation.expires_at.astimezone(UTC).isoformat()},
        sealed={"link": invitation_link(settings, token)},
    )


def notify_new_device(session: Session, settings: NotificationSettings, user_id: int) -> int | None:
    """Tell the owner their account was signed in to from a browser new to it."""
    return _record(session, settings, user_id, MailKind.NEW_DEVICE, {"at": utcnow().isoformat()})


def notify_password_changed(
    session: Session, settings: NotificationSettings, user_id: int
) -> int | None:
    """Tell the owner their password was changed (by them, or on a reset link)."""
    return _record(
        session, settings, user_id, MailKind.PASSWORD_CHANGED, {"at": utcnow().isoformat()}
    )


def is_new_device(device_subjects: tuple[str, ...] | None, user_id: int) -> bool:
    """Whether a browser's device cookie (moderation/core/device_cookies.py) shows no earlier
    sign-in to this account."""
    return f"account:{user_id}" not in (device_subjects or ())
