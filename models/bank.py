"""Hash banks: named lists of known abusive media hashes (PDQ, MD5, SHA-256, video frame PDQ)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow

# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer, "sqlite")

DEFAULT_PDQ_THRESHOLD = 31


class BankKind(StrEnum):
    """What a bank holds; triage weights victim-submitted and confirmed banks highest."""

    # A list of known child sexual abuse material (from a hotline or clearing house): a match
    # restricts the content to CSAM_ROLES wherever it appears (moderation/accounts/restriction.py).
    CSAM = "csam"
    VICTIM_SUBMITTED = "victim_submitted"
    CONFIRMED = "confirmed"
    IMPORTED = "imported"
    OTHER = "other"


class ActionHint(StrEnum):
    """What a match should do to a report's priority."""

    RAISE_PRIORITY = "raise_priority"
    KNOWN_VIOLATION = "known_violation"


class SignalType(StrEnum):
    PDQ = "pdq"
    MD5 = "md5"
    SHA256 = "sha256"
    # vPDQ-style frame hashes; `signal_value` is the SHA-256 of the canonical frame list.
    VIDEO = "video"


class EntryStatus(StrEnum):
    """Only `active` entries match. Withdrawn and deleted come from the bank's source (e.g.
    StopNCII); disabled is a local admin decision that an upstream 'Active' does not undo."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    DELETED = "deleted"
    DISABLED = "disabled"


class Bank(Base):
    __tablename__ = "banks"
    __table_args__ = (
        CheckConstraint("pdq_threshold >= 0 AND pdq_threshold <= 31", name="pdq_threshold_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[BankKind] = mapped_column(String(32), default=BankKind.OTHER)
    description: Mapped[str | None] = mapped_column(Text)
    pdq_threshold: Mapped[int] = mapped_column(default=DEFAULT_PDQ_THRESHOLD)
    action_hint: Mapped[ActionHint] = mapped_column(String(32), default=ActionHint.RAISE_PRIORITY)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Policy codes (e.g. "remove.ncii") whose final decisions add the media's hashes here; a
    # reversal withdraws them again (moderation/outcomes/banking.py).
    decision_policies: Mapped[list[str]] = mapped_column(JSON, default=list)

    entries: Mapped[list[BankEntry]] = relationship(back_populates="bank", passive_deletes=True)


class BankEntry(Base):
    """One hash in one bank. The id doubles as the entry's id in the PDQ index."""

    __tablename__ = "bank_entries"
    __table_args__ = (
        UniqueConstraint("bank_id", "signal_type", "signal_value"),
        Index("ix_bank_entries_signal", "signal_type", "signal_value"),
        Index("ix_bank_entries_status_changed", "status_changed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    signal_type: Mapped[SignalType] = mapped_column(String(16))
    # Lower-case hex: the hash itself, or for video the SHA-256 of the canonical frame list.
    signal_value: Mapped[str] = mapped_column(String(64))
    # Video entries only: [{"frame", "quality", "pdq", "timestamp"}, ...].
    video_frames: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    source: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    added_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[EntryStatus] = mapped_column(String(16), default=EntryStatus.ACTIVE)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The source's record id (StopNCII has none, so its hash value), for later updates.
    external_id: Mapped[str | None] = mapped_column(String(200))

    bank: Mapped[Bank] = relationship(back_populates="entries")
