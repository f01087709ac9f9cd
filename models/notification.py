"""Email notifications: each person's preferences, and the outbox of messages (one row per
message, unique per recipient and period, recorded before the message is handed to SMTP)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class DigestSchedule(StrEnum):
    DAILY = "daily"  # 09:00 in the person's time zone
    TWICE_DAILY = "twice_daily"  # 09:00 and 17:00
    OFF = "off"


class MailKind(StrEnum):
    DIGEST = "digest"
    URGENT_ALERT = "urgent_alert"
    INVITATION = "invitation"
    NEW_DEVICE = "new_device"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a kind of message, not a secret
    REPORT_STATUS = "report_status"


class MailState(StrEnum):
    PENDING = "pending"  # recorded, waiting for (another) attempt
    SENDING = "sending"  # an attempt holds the lease
    SENT = "sent"  # the SMTP server accepted it
    SKIPPED = "skipped"  # a period recorded with nothing to say (an empty digest)
    FAILED = "failed"  # every attempt was refused
    # The sender died while the server may have accepted it: a digest is then not sent again
    # (at most once per period; its contents roll into the next digest).
    UNCERTAIN = "uncertain"


class NotificationPreferences(Base):
    """How one person hears from us. A person without a row has the defaults."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(8), default="en")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    digest_schedule: Mapped[DigestSchedule] = mapped_column(
        String(16), default=DigestSchedule.DAILY
    )
    urgent_alerts: Mapped[bool] = mapped_column(default=True)
    # Seniors and admins may subscribe to the queue digest (overdue items, escalations...).
    queue_digest: Mapped[bool] = mapped_column(default=False)
    # The random value an unsubscribe link carries (signed), so the link names no account.
    unsubscribe_key: Mapped[str] = mapped_column(String(64), unique=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutgoingMail(Base):
    """One message. `(recipient_key, period)` is unique: a digest period, an alert about one
    case or one status notice is recorded once, whichever process gets there first, before
    anything is handed to SMTP. `context` holds only what the message may say (counts, case
    numbers, report ids, categories); what it must carry but never be stored in the clear (a
    victim's address, an invitation link) is sealed in `sealed` and dropped once sent."""

    __tablename__ = "outgoing_mail"
    __table_args__ = (
        UniqueConstraint("recipient_key", "period"),
        Index("ix_outgoing_mail_state_created", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[MailKind] = mapped_column(String(32))
    # "user:12" for staff, "receipt:5" for a victim who left an address on the portal.
    recipient_key: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    period: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8), default="en")
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Digests: the window the digest covers (the next one starts where this one ends).
    covers_from: Mapped[datetime | None]
    covers_until: Mapped[datetime | None]
    state: Mapped[MailState] = mapped_column(String(16), default=MailState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sending_since: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # The exception type of the last failed attempt (never its text: it may quote an address).
    last_error: Mapped[str | None] = mapped_column(String(80))
