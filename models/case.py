"""Cases for law-enforcement liaisons: escalated reports gathered under a number people can say
on the phone, their notes, preservation holds on their media, and what retention destroyed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class CaseType(StrEnum):
    NCII = "ncii"
    SYNTHETIC_SEXUAL = "synthetic_sexual"
    DOXXING_INCITEMENT = "doxxing_incitement"
    CSAM_SUSPECTED = "csam_suspected"
    OTHER = "other"


class CaseUrgency(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    # A person is in danger now (threats with an address, a minor): call, do not email.
    IMMEDIATE = "immediate"


class CaseStatus(StrEnum):
    """The workflow, in order: open -> referred (to police) -> acknowledged -> closed."""

    OPEN = "open"
    REFERRED = "referred"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Case(Base):
    """One hand-over to law enforcement. `number` ("C-2026-0042") is what people quote; it is
    made of the UTC year it was opened and `sequence`, which restarts every year."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("year", "sequence"),
        Index("ix_cases_status_opened", "status", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    year: Mapped[int]
    sequence: Mapped[int]
    case_type: Mapped[CaseType] = mapped_column(String(32))
    urgency: Mapped[CaseUrgency] = mapped_column(String(16), default=CaseUrgency.ROUTINE)
    status: Mapped[CaseStatus] = mapped_column(String(16), default=CaseStatus.OPEN)
    # The language of the case's summary for the police ("ko" or "en").
    language: Mapped[str] = mapped_column(String(8), default="en")
    # Why it was opened, in the opener's words (shown on the case and in the summary).
    reason: Mapped[str | None] = mapped_column(Text)
    assigned_liaison_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The SLA clock: the first referral is due CASE_REFERRAL_HOURS after opening.
    referral_due_at: Mapped[datetime]
    referred_at: Mapped[datetime | None]
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    close_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    reports: Mapped[list[CaseReport]] = relationship(
        back_populates="case", order_by="CaseReport.report_id", cascade="all, delete-orphan"
    )
    notes: Mapped[list[CaseNote]] = relationship(
        back_populates="case", order_by="CaseNote.id", cascade="all, delete-orphan"
    )


class CaseReport(Base):
    """A report in a case (a report may be in more than one: two police forces, two cases)."""

    __tablename__ = "case_reports"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    case: Mapped[Case] = relationship(back_populates="reports")


class CaseNote(Base):
    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="notes")


class HoldReason(StrEnum):
    ESCALATION = "escalation"
    CASE = "case"


class MediaHold(Base):
    """A legal preservation hold on one medium: retention never destroys held media. Active while
    not released and `expires_at` is in the future; extended by moving `expires_at`, released
    only by a senior with a reason (moderation/cases/holds.py)."""

    __tablename__ = "media_holds"
    __table_args__ = (Index("ix_media_holds_media_active", "media_id", "released_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[HoldReason] = mapped_column(String(16))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    extended_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    release_reason: Mapped[str | None] = mapped_column(Text)


class MediaShred(Base):
    """Retention destroyed this medium's bytes (its wrapped data key and ciphertext). The media
    and report rows stay with their hashes, so re-shares still match after the bytes are gone."""

    __tablename__ = "media_shreds"

    media_id: Mapped[int] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), primary_key=True
    )
    storage_key: Mapped[str] = mapped_column(String(128), index=True)
    # The outcome whose retention period had passed ("no_violation", "removed", ...).
    outcome: Mapped[str] = mapped_column(String(32))
    retention_days: Mapped[int]
    shredded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once the object is destroyed, after the row is committed: a run that dies in between
    # leaves this null, and the next run finishes the job (never bytes gone with no record).
    object_destroyed_at: Mapped[datetime | None] = mapped_column(index=True)


class PoliceRequestStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    # Withdrawn by the agency, or refused for want of a legal basis (the note says which).
    CLOSED = "closed"


class PoliceRequest(Base):
    """A request received from law enforcement (preservation, disclosure, takedown), tracked on
    the clock until answered. Officer names and references are personal data: they are shown to
    staff and never logged or put in audit details."""

    __tablename__ = "police_requests"
    __table_args__ = (Index("ix_police_requests_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    agency: Mapped[str] = mapped_column(String(255))
    officer: Mapped[str | None] = mapped_column(String(255))
    their_reference: Mapped[str | None] = mapped_column(String(255))
    legal_basis: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    status: Mapped[PoliceRequestStatus] = mapped_column(
        String(16), default=PoliceRequestStatus.OPEN
    )
    logged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    logged_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
