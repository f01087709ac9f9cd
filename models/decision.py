"""Moderators' decisions on reports.

A decision is recorded `pending` and becomes `final` once its undo window has passed; only then
do its side effects run (see moderation/review/decisions.py). Undo deletes a pending row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class DecisionState(StrEnum):
    PENDING = "pending"
    FINAL = "final"


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (
        # The finaliser's scan: pending decisions whose window has passed.
        Index("ix_decisions_state_final_after", "state", "final_after"),
        Index("ix_decisions_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The taxonomy code, e.g. "remove.ncii", "no_violation", "needs_context", "escalate".
    action: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[DecisionState] = mapped_column(String(16), default=DecisionState.FINAL)
    # One batch per submit: a cluster decision undoes as a whole.
    batch_id: Mapped[str | None] = mapped_column(String(36), index=True)
    final_after: Mapped[datetime | None]
    finalized_at: Mapped[datetime | None]
    # True when the moderator decided from signals alone (bank match), without any reveal.
    without_viewing: Mapped[bool] = mapped_column(default=False)
    # A final decision a senior reversed (on appeal or review): it no longer stands.
    reversed_at: Mapped[datetime | None]
    reversed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reversal_reason: Mapped[str | None] = mapped_column(String(255))
