"""The outbox of email: a message is recorded (one row, unique per recipient and period) and
committed before anything is handed to SMTP, then sent by the `mail` queue's job.

Which side of at-least-once: a refusal, or a connection that fails before the server has the
body, is certain non-delivery and is retried (RQ's Retry, MAIL_RETRY_SECONDS) until the last
attempt fails the message, visibly on /dashboard/jobs. The one uncertain moment is a
conversation that breaks after the body was sent and before the server's answer (or a worker
that dies there, seen as an expired lease). There a **digest is sent at most once**: it is
marked `uncertain` and not sent again, and because the next digest covers everything since the
last digest known to be sent, nothing it said is lost. **Alerts and personal notices are sent
at least once** (a missed alert about a child in danger costs more than a duplicate): they are
retried with the same Message-ID, which mail clients use to fold the duplicate away.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import MailKind, MailState, OutgoingMail, User, utcnow
from moderation.core.sealing import SealError, seal, unseal
from moderation.notifications import mailer
from moderation.notifications.settings import NotificationSettings

log = logging.getLogger(__name__)

_SEAL_PURPOSE = "outgoing_mail"
# Kinds sent at most once when delivery is uncertain (see the module docstring).
AT_MOST_ONCE = frozenset({MailKind.DIGEST})


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    headers: tuple[tuple[str, str], ...] = ()


# (row, recipient address or None, opened secrets) -> the message's parts.
Renderer = Callable[[OutgoingMail, dict[str, Any]], Rendered]


def new_message_id(mail_from: str, kind: str) -> str:
    """A Message-ID at the sender's domain, random, naming nothing but the kind."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<{kind}.{secrets.token_hex(12)}@{domain}>"


def record(
    session: Session,
    settings: NotificationSettings,
    *,
    kind: MailKind,
    recipient_key: str,
    period: str,
    language: str,
    context: dict[str, Any],
    user_id: int | None = None,
    sealed: dict[str, Any] | None = None,
    covers_from: datetime | None = None,
    covers_until: datetime | None = None,
    state: MailState = MailState.PENDING,
) -> OutgoingMail | None:
    """Record one message for `period` and commit; None if that recipient's period was already
    recorded (by another process: the unique constraint decides). `context` must hold only what
    a message may say; `sealed` (an address, a link) is encrypted on the row. Commits or rolls
    back the session: call it with no other pending changes."""
    row = OutgoingMail(
        message_id=new_message_id(settings.mail_from, str(kind)),
        kind=kind,
        recipient_key=recipient_key,
        user_id=user_id,
        period=period,
        language=language,
        context=context,
        covers_from=covers_from,
        covers_until=covers_until,
        state=state,
    )
    session.add(row)
    try:
        session.flush()
        if sealed is not None:
            # Bound to this row's id: a sealed value copied to another row does not open.
            row.sealed = seal(settings.sealing_key, row.id, _SEAL_PURPOSE, sealed)
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return row


def _claim(session: Session, mail_id: int, settings: NotificationSettings) -> OutgoingMail | None:
    """Take the lease on a message that is pending, or whose sender died (lease expired) and
    may be retried; commits. None if there is nothing to do."""
    now = utcnow()
    expired = now - timedelta(seconds=settings.lease_seconds)
    row = session.get(OutgoingMail, mail_id)
    if row is None:
        return None
    if row.state == MailState.SENDING and row.sending_since and row.sending_since < expired:
        if row.kind in AT_MOST_ONCE:
            row.state, row.sealed = MailState.UNCERTAIN, None
            session.commit()
            log.warning("mail %s %s: sender died mid-send; not resent", row.id, row.message_id)
            return None
    claimed = session.execute(
        update(OutgoingMail)
        .where(
            OutgoingMail.id == mail_id,
            or_(
                OutgoingMail.state == MailState.PENDING.value,
                (OutgoingMail.state == MailState.SENDING.value)
                & (OutgoingMail.sending_since < expired),
            ),
        )
        .values(
            state=MailState.SENDING.value, sending_since=now, attempts=OutgoingMail.attempts + 1
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if claimed.rowcount != 1:
        return None
    session.refresh(row)
    return row


def _recipient(session: Session, row: OutgoingMail, opened: dict[str, Any]) -> str | None:
    if row.user_id is not None:
        user = session.get(User, row.user_id)
        return user.email if user is not None and user.active else None
    address = opened.get("to")
    return str(address) if address else None


def build_message(
    settings: NotificationSettings, row: OutgoingMail, recipient: str, rendered: Rendered
) -> EmailMessage:
    """The MIME message: a plain-text part and an HTML alternative, nothing else."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = row.message_id
    # Out-of-office replies and auto-forwarders leave automatic mail alone (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    for name, value in rendered.headers:
        message[name] = value
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def deliver(
    session: Session, mail_id: int, settings: NotificationSettings, render: Renderer
) -> str | None:
    """One attempt at one message; returns its state afterwards, or None if there was nothing
    to do (sent, taken by another worker, unknown, or no SMTP server configured). Idempotent.
    Raises MailNotSent after recording a refusal (so RQ retries it and, on the last attempt,
    lists it as failed), and MailUncertain for an alert whose delivery is uncertain (it is
    sent again, with the same Message-ID)."""
    if settings.smtp is None:
        # Nothing is lost: the message waits in the outbox until a server is configured.
        log.info("mail %s: no SMTP server configured (MODERATION_SMTP_URL); waiting", mail_id)
        return None
    row = _claim(session, mail_id, settings)
    if row is None:
        return None
    try:
        opened = (
            unseal(settings.sealing_key, row.id, _SEAL_PURPOSE, row.sealed) if row.sealed else {}
        )
    except SealError:
        opened = None
    recipient = _recipient(session, row, opened or {}) if opened is not None else None
    if recipient is None:
        # A disabled account, or a sealed value that no longer opens: nobody to send to.
        row.state, row.sealed = MailState.SKIPPED, None
        session.commit()
        log.info("mail %s %s: no recipient; skipped", row.id, row.message_id)
        return str(row.state)
    expires = row.context.get("expires_at")
    if row.kind == MailKind.INVITATION and expires and datetime.fromisoformat(expires) <= utcnow():
        # A link that no longer works (it waited for an SMTP server) is not worth sending.
        row.state, row.sealed = MailState.SKIPPED, None
        session.commit()
        log.info("mail %s %s: the link expired before it could be sent", row.id, row.message_id)
        return str(row.state)
    message = build_message(settings, row, recipient, render(row, opened or {}))
    try:
        mailer.send(settings.smtp, message, parseaddr(settings.mail_from)[1], recipient)
    except mailer.MailNotSent as exc:
        row.last_error = type(exc).__name__
        final = row.attempts >= settings.max_attempts
        row.state = MailState.FAILED if final else MailState.PENDING
        if final:
            row.sealed = None
        session.commit()
        log.warning(
            "mail %s %s: attempt %d refused (%s)%s",
            row.id, row.message_id, row.attempts, exc, "; failed" if final else "",
        )  # fmt: skip
        raise
    except mailer.MailUncertain:
        row.last_error = "MailUncertain"
        if row.kind in AT_MOST_ONCE:
            row.state, row.sealed = MailState.UNCERTAIN, None
            session.commit()
            log.warning("mail %s %s: delivery uncertain; not resent", row.id, row.message_id)
            return str(row.state)
        row.state = MailState.PENDING
        session.commit()
        log.warning("mail %s %s: delivery uncertain; will resend", row.id, row.message_id)
        raise
    row.state, row.sent_at, row.sealed, row.last_error = MailState.SENT, utcnow(), None, None
    session.commit()
    log.info("mail %s %s: sent (%s)", row.id, row.message_id, row.kind)
    return str(row.state)


def pending_ids(session: Session, settings: NotificationSettings, limit: int = 500) -> list[int]:
    """Messages waiting for an attempt, oldest first: pending ones (the dispatcher re-enqueues
    those whose job was lost: Redis is never the only copy), and those whose sender died
    mid-send (their lease expired), so that the next attempt settles them: an alert or notice
    is sent again, a digest becomes `uncertain` (see `_claim`)."""
    expired = utcnow() - timedelta(seconds=settings.lease_seconds)
    return list(
        session.execute(
            select(OutgoingMail.id)
            .where(
                or_(
                    OutgoingMail.state == MailState.PENDING.value,
                    (OutgoingMail.state == MailState.SENDING.value)
                    & (OutgoingMail.sending_since < expired),
                )
            )
            .order_by(OutgoingMail.created_at, OutgoingMail.id)
            .limit(limit)
        ).scalars()
    )


def dispatch(
    session: Session, connection: Any, settings: NotificationSettings, ids: list[int] | None = None
) -> int:
    """Put a send job on the `mail` queue for each of `ids` (default: every pending message
    whose job was lost), unless one is already waiting; returns how many were enqueued. Nothing
    is enqueued without an SMTP server: the messages wait in the outbox."""
    from moderation.core.queueing import enqueue_mail

    if settings.smtp is None:
        return 0
    chosen = pending_ids(session, settings) if ids is None else ids
    # A message unclaimed for a lease whose job says it started lost its worker: replace it.
    lease = timedelta(seconds=settings.lease_seconds)
    return sum(
        1
        for mail_id in chosen
        if enqueue_mail(connection, mail_id, settings.retry_seconds, unclaimed_for=lease)
    )


def send_soon(connection: Any, settings: NotificationSettings, mail_id: int | None) -> None:
    """Hand a just-recorded message to the `mail` queue. A Redis failure is logged and
    swallowed: the row is pending and the next alert round (30 s) enqueues it."""
    from redis.exceptions import RedisError

    if mail_id is None:
        return
    try:
        dispatch(None, connection, settings, [mail_id])  # type: ignore[arg-type]
    except RedisError as exc:
        log.warning("mail %s: not enqueued (%s); the dispatcher will", mail_id, type(exc).__name__)
