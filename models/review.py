"""Review state beside a report: claims (leases), reveals of unblurred media, per-day exposure
counters for moderator wellness, and review preferences."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ReviewClaim(Base):
    """A lease on a report: while `expires_at` is in the future only `user_id` may decide it.

    One row per report (the primary key); taking it is a compare-and-set UPDATE, or an INSERT
    that loses on the primary key when another moderator got there first.
    """

    __tablename__ = "review_claims"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class MediaReveal(Base):
    """One deliberate unblur by one moderator (also an audit event). The unblurred bytes are
    served only through a live reveal of the asking user; `region` limits it to a rectangle in
    preview fractions {x, y, w, h} (0-1), the rest staying blurred."""

    __tablename__ = "media_reveals"
    __table_args__ = (Index("ix_media_reveals_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    region: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class ExposureDay(Base):
    """A moderator's exposure on one UTC day: reveals, seconds of looking, and a break."""

    __tablename__ = "exposure_days"
    __table_args__ = (UniqueConstraint("user_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date]
    reveals: Mapped[int] = mapped_column(default=0)
    exposure_seconds: Mapped[int] = mapped_column(default=0)
    last_beat_at: Mapped[datetime | None]
    break_until: Mapped[datetime | None]
    breaks_taken: Mapped[int] = mapped_column(default=0)


class ReviewPreferences(Base):
    """How previews are shown to one moderator by default (blurred and greyscale unless chosen
    otherwise). A small table of its own so the accounts model stays untouched."""

    __tablename__ = "review_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    blur: Mapped[bool] = mapped_column(default=True)
    greyscale: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
