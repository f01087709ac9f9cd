"""Reports, their media and the signals triage finds in them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class ReportStatus(StrEnum):
    RECEIVED = "received"
    TRIAGING = "triaging"
    QUEUED = "queued"
    IN_REVIEW = "in_review"
    DECIDED = "decided"
    ESCALATED = "escalated"


# The statuses of a report waiting for a moderator: the review queue, decisions and re-scoring
# all mean these.
OPEN_STATUSES = (ReportStatus.QUEUED, ReportStatus.IN_REVIEW)


class Category(StrEnum):
    """What a report says the content is."""

    NCII = "ncii"
    SYNTHETIC_SEXUAL = "synthetic_sexual"
    SEXUAL_HARASSMENT = "sexual_harassment"
    DOXXING = "doxxing"
    INCITEMENT = "incitement"
    CSAM_SUSPECTED = "csam_suspected"
    OTHER = "other"


# Least to most severe, as the default priority weights rank them. An upstream update may move a
# report up this list, never down (moderation/intake/mastodon.py); suspected CSAM is always the
# top, whatever the operator's weights, because it also narrows who may see the report.
CATEGORY_SEVERITY = (
    Category.OTHER,
    Category.SEXUAL_HARASSMENT,
    Category.INCITEMENT,
    Category.DOXXING,
    Category.SYNTHETIC_SEXUAL,
    Category.NCII,
    Category.CSAM_SUSPECTED,
)


class ReporterKind(StrEnum):
    """Who filed a report: any user, the person shown, a trusted flagger, or a machine."""

    USER = "user"
    VICTIM = "victim"
    TRUSTED_FLAGGER = "trusted_flagger"
    AUTOMATED = "automated"


# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = BigInteger().with_variant(Integer, "sqlite")


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class MediaState(StrEnum):
    PENDING = "pending"
    HASHED = "hashed"
    FAILED = "failed"


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_queue", "status", "priority", "received_at"),
        Index("ix_reports_platform_external", "platform_id", "external_id"),
        # The review queue reads only waiting reports, best first: partial indexes keep that
        # fast with a million decided reports behind them (bench/ui.py).
        Index(
            "ix_reports_open_order",
            text("priority DESC"),
            "received_at",
            "id",
            postgresql_where=text("status IN ('queued', 'in_review')"),
            sqlite_where=text("status IN ('queued', 'in_review')"),
        ),
        Index(
            "ix_reports_open_category",
            "category",
            postgresql_where=text("status IN ('queued', 'in_review')"),
            sqlite_where=text("status IN ('queued', 'in_review')"),
        ),
        Index("ix_reports_posted_by", "platform_id", "posted_by_id"),
        Index("ix_reports_channel", "platform_id", "channel_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(32))
    reporter_kind: Mapped[str] = mapped_column(String(32))
    reporter_id: Mapped[str | None] = mapped_column(String(255))
    comment: Mapped[str | None] = mapped_column(Text)
    content_url: Mapped[str | None] = mapped_column(Text)
    content_text: Mapped[str | None] = mapped_column(Text)
    posted_by_id: Mapped[str | None] = mapped_column(String(255))
    posted_by_handle: Mapped[str | None] = mapped_column(String(255))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The chat room or channel id from `context`, as a column so "this channel's other reports"
    # is an index lookup.
    channel_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[ReportStatus] = mapped_column(String(32), default=ReportStatus.RECEIVED)
    priority: Mapped[int] = mapped_column(default=0)
    priority_reasons: Mapped[list[Any]] = mapped_column(default=list)
    # Reports whose media match each other share a cluster (see moderation/triage/clusters.py).
    cluster_id: Mapped[int | None] = mapped_column(
        ForeignKey("clusters.id", ondelete="SET NULL"), index=True
    )
    # "ko", "en" or "und", guessed from the reported text (a queue filter).
    language: Mapped[str | None] = mapped_column(String(8), index=True)
    reported_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    triage_started_at: Mapped[datetime | None]
    # Stamped every few seconds while a worker triages the report (moderation/triage/heartbeat.py).
    triage_heartbeat_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    triage_attempts: Mapped[int] = mapped_column(default=0)

    media: Mapped[list[Media]] = relationship(
        back_populates="report", order_by="Media.position", cascade="all, delete-orphan"
    )
    signals: Mapped[list[Signal]] = relationship(
        back_populates="report", order_by="Signal.id", cascade="all, delete-orphan"
    )


class Media(Base):
    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    # Where the bytes live in the encrypted store (content address); None until fetched.
    storage_key: Mapped[str | None] = mapped_column(String(128))
    source_url: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[MediaKind] = mapped_column(String(16), default=MediaKind.IMAGE)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    md5: Mapped[str | None] = mapped_column(String(32), index=True)
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None]
    mime: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    width: Mapped[int | None]
    height: Mapped[int | None]
    # Videos: seconds, and what the container declares ({container, codec, fps, rotation}).
    duration_s: Mapped[float | None]
    video_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Custody data of a fetched URL: resolved address, response headers, redirects, time.
    custody: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fetch_attempts: Mapped[int] = mapped_column(default=0)
    state: Mapped[MediaState] = mapped_column(String(16), default=MediaState.PENDING)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[Report] = relationship(back_populates="media")
    hashes: Mapped[list[MediaHash]] = relationship(
        back_populates="media", order_by="MediaHash.id", cascade="all, delete-orphan"
    )


class MediaHash(Base):
    """A PDQ hash used to match media to media: one per image (upright, from the matching
    pixels, see moderation/media/analysis.py) and one per kept video frame (vPDQ, one
    frame a second). The id doubles as the entry's id in the media PDQ index."""

    __tablename__ = "media_hashes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    pdq: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int]
    # Video frames only: decode index and presentation time in seconds.
    frame: Mapped[int | None]
    timestamp: Mapped[float | None]

    media: Mapped[Media] = relationship(back_populates="hashes")


class Signal(Base):
    """Something triage found: a hash match, a classifier score, a text hit. `details` is JSON
    (spans, boxes, bank ids) so the UI can explain the priority."""

    __tablename__ = "signals"
    # "Reports with a bank match" is a queue filter: find them by kind without a table scan.
    __table_args__ = (Index("ix_signals_kind_report", "kind", "report_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(64))
    score: Mapped[float | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[Report] = relationship(back_populates="signals")
