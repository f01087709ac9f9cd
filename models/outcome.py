"""What happens after a decision: decision callbacks to platforms (an outbox of deliveries and
every attempt at them) and appeals.

A delivery row is written in the same transaction as the event it announces (a decision made
final, a reversal), so a callback is never lost between the database and the queue: the queue
only says "look now"; the row says what is still owed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class DeliveryState(StrEnum):
    PENDING = "pending"  # owed: next_attempt_at says when
    DELIVERED = "delivered"  # the platform answered 2xx
    FAILED = "failed"  # every retry was spent
    DISABLED = "disabled"  # the endpoint answered 410 Gone, or the platform has no callback now


class CallbackEvent(StrEnum):
    DECISION_FINAL = "decision.final"
    DECISION_REVERSED = "decision.reversed"
    APPEAL_DECIDED = "appeal.decided"


class CallbackDelivery(Base):
    __tablename__ = "callback_deliveries"
    __table_args__ = (Index("ix_callback_deliveries_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id", ondelete="SET NULL"))
    event: Mapped[CallbackEvent] = mapped_column(String(32))
    # The Standard Webhooks `webhook-id`: the same on every attempt, so receivers can dedupe.
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[DeliveryState] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A worker's lease on the row while it sends, so two workers never send one attempt twice.
    claimed_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    attempt_log: Mapped[list[CallbackAttempt]] = relationship(
        back_populates="delivery", order_by="CallbackAttempt.id", cascade="all, delete-orphan"
    )


class CallbackAttempt(Base):
    """One try: when, how long, what came back. Never the response body (it could hold anything)."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("callback_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    latency_ms: Mapped[int]
    # A fetcher error code (timeout, blocked_address, ...) when there was no HTTP answer.
    error: Mapped[str | None] = mapped_column(String(64))
    # Set when an admin pressed "redeliver".
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    delivery: Mapped[CallbackDelivery] = relationship(back_populates="attempt_log")


class AppealState(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    REVERSED = "reversed"


class Appeal(Base):
    """An appeal by the person whose content was removed, forwarded by their platform."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(255))
    statement: Mapped[str | None] = mapped_column(Text)
    state: Mapped[AppealState] = mapped_column(String(16), default=AppealState.OPEN)
    # A senior who did not make the first decision.
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
