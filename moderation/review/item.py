"""Reading one report for the item page: its media with detections, text highlights, related
reports and decision history."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from models import (
    ActionHint,
    BankHit,
    Decision,
    Detection,
    Media,
    Platform,
    Report,
    Signal,
    SignalKind,
    TextField,
    TextHit,
    User,
)
from moderation.core.errors import NotFoundError

RELATED_LIMIT = 20
_TEXT_FIELDS = ("content_text", "comment")


@dataclass(frozen=True)
class Highlight:
    """How the item page marks a text hit: the rule that fired, its family and severity."""

    label: str
    text_kind: str
    severity: int


@dataclass(frozen=True)
class Segment:
    """A piece of reported text; `hit` is the text signal covering it, or None."""

    text: str
    hit: Highlight | None = None


@dataclass(frozen=True)
class DetectionView:
    """One detector box on an image, as the item page offers it for a region reveal."""

    label: str
    score: float | None
    detection: Detection

    @property
    def region(self) -> dict[str, float]:
        """The box as fractions of the image (what a region reveal takes)."""
        (x, y, w, h), (width, height) = self.detection.box, self.detection.image_size
        return {"x": x / width, "y": y / height, "w": w / width, "h": h / height}


@dataclass
class MediaView:
    media: Media
    detections: list[DetectionView] = field(default_factory=list)


@dataclass(frozen=True)
class DecisionEntry:
    """One decision in the item's history, with who made it (None: the system)."""

    decision: Decision
    decided_by: str | None


@dataclass
class ItemView:
    report: Report
    platform_slug: str
    media: list[MediaView]
    signals: list[Signal]
    bank_signals: list[Signal]
    text_segments: list[Segment]
    comment_segments: list[Segment]
    cluster: list[Report]
    by_same_account: list[Report]
    in_same_channel: list[Report]
    decisions: list[DecisionEntry]

    @property
    def bank_match(self) -> bool:
        return bool(self.bank_signals)

    @property
    def bank_hits(self) -> list[BankHit]:
        """The banks matched, by name, best first (one line per bank entry)."""
        hits = [BankHit.from_details(signal.details) for signal in self.bank_signals]
        return sorted((hit for hit in hits if hit), key=lambda hit: hit.distance)

    @property
    def known_violation(self) -> bool:
        """A bank says this is a confirmed violation (not only "raise its priority")."""
        return any(hit.action_hint == ActionHint.KNOWN_VIOLATION for hit in self.bank_hits)

    @property
    def signal_lines(self) -> list[tuple[str, str, float | None, int]]:
        """(kind, label, score, how many) for the signals list: matches with other reports'
        media are one line per method with a count, not one line per matched medium."""
        lines: list[tuple[str, str, float | None, int]] = []
        clusters: dict[str, int] = {}
        for signal in self.signals:
            if signal.kind == SignalKind.CLUSTER:
                clusters[signal.label] = clusters.get(signal.label, 0) + 1
            else:
                lines.append((signal.kind, signal.label, signal.score, 1))
        lines += [(SignalKind.CLUSTER, label, None, n) for label, n in sorted(clusters.items())]
        return lines

    @property
    def posted_in(self) -> str | None:
        """The chat room or channel the content was posted in, as the platform named it (else
        its id)."""
        context = self.report.context or {}
        name = context.get("channel_name") or self.report.channel_id
        return str(name) if name else None

    @property
    def channel_members(self) -> int | None:
        value = (self.report.context or {}).get("member_count")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def upstream_category(self) -> str | None:
        """Mastodon's own category for the report, as last sent (see intake/mastodon.py)."""
        value = (self.report.context or {}).get("mastodon_category")
        return str(value) if value else None

    @property
    def upstream_rules(self) -> list[str]:
        """The ids of the Mastodon server rules the report cites, as last sent."""
        return [str(rule) for rule in (self.report.context or {}).get("rule_ids") or [] if rule]

    @property
    def content_links(self) -> list[str]:
        """Where the content is: the reported URL, then the other links a reporter gave (the
        portal keeps them in the context), http(s) only, each once."""
        context_links = (self.report.context or {}).get("links") or []
        found = []
        for link in [self.report.content_url, *context_links]:
            text = str(link or "")
            if text.startswith(("https://", "http://")) and text not in found:
                found.append(text)
        return found

    @property
    def has_media(self) -> bool:
        return bool(self.media)


def segments(text: str | None, hits: list[tuple[TextHit, Highlight]]) -> list[Segment]:
    """Split `text` into plain and highlighted pieces from text hits (start/end offsets).

    Overlapping spans merge (the most severe one labels the piece); spans outside the text are
    clipped or dropped. The template escapes every piece, so no markup from the text survives.
    """
    if not text:
        return []
    cleaned = []
    for hit, highlight in hits:
        start, end = max(0, hit.start), min(len(text), hit.end)
        if start < end:
            cleaned.append((start, end, highlight))
    cleaned.sort(key=lambda item: (item[0], -item[1]))
    merged: list[tuple[int, int, Highlight]] = []
    for start, end, highlight in cleaned:
        if merged and start < merged[-1][1]:
            prev_start, prev_end, prev = merged[-1]
            worse = highlight if highlight.severity > prev.severity else prev
            merged[-1] = (prev_start, max(prev_end, end), worse)
        else:
            merged.append((start, end, highlight))
    pieces: list[Segment] = []
    position = 0
    for start, end, highlight in merged:
        if start > position:
            pieces.append(Segment(text[position:start]))
        pieces.append(Segment(text[start:end], highlight))
        position = end
    if position < len(text):
        pieces.append(Segment(text[position:]))
    return pieces


def _text_hits(signals: list[Signal], text_field: TextField) -> list[tuple[TextHit, Highlight]]:
    hits = []
    for signal in signals:
        if signal.kind != SignalKind.TEXT:
            continue
        hit = TextHit.from_details(signal.details)
        if hit is not None and hit.field == text_field:
            hits.append((hit, Highlight(signal.label, hit.text_kind, hit.severity)))
    return hits


def image_detections(signals: list[Signal], media_id: int) -> list[DetectionView]:
    """The detector boxes on one image (not on sampled video frames: the preview of a video is
    a contact sheet, so a frame's box has no place on it), best score first."""
    found = []
    for signal in signals:
        if signal.kind != SignalKind.CLASSIFIER or signal.media_id != media_id:
            continue
        detection = Detection.from_details(signal.details)
        if detection is not None and detection.sample is None:
            found.append(DetectionView(signal.label, signal.score, detection))
    return sorted(found, key=lambda view: -(view.score or 0.0))


def item_view(session: Session, report_id: int, visible: ColumnElement[bool]) -> ItemView:
    """Everything the item page shows about one report; NotFoundError if unknown.

    The caller checks permission on the returned report; related lists are limited to reports
    `visible` to the user. Read-only (the caller finalises due decisions first).
    """
    report = session.execute(
        select(Report)
        .where(Report.id == report_id)
        .options(selectinload(Report.media), selectinload(Report.signals))
    ).scalar_one_or_none()
    if report is None:
        raise NotFoundError("no such report")
    signals = list(report.signals)
    media_views = [MediaView(media, image_detections(signals, media.id)) for media in report.media]
    related = select(Report).where(Report.id != report.id, visible).order_by(Report.id.desc())
    cluster = (
        list(
            session.execute(
                related.where(Report.cluster_id == report.cluster_id).limit(100)
            ).scalars()
        )
        if report.cluster_id is not None
        else []
    )
    by_account = (
        list(
            session.execute(
                related.where(
                    Report.platform_id == report.platform_id,
                    Report.posted_by_id == report.posted_by_id,
                ).limit(RELATED_LIMIT)
            ).scalars()
        )
        if report.posted_by_id
        else []
    )
    channel = report.channel_id
    in_channel = (
        list(
            session.execute(
                related.where(
                    Report.platform_id == report.platform_id,
                    Report.channel_id == channel,
                ).limit(RELATED_LIMIT)
            ).scalars()
        )
        if channel
        else []
    )
    history = [
        DecisionEntry(decision, email)
        for decision, email in session.execute(
            select(Decision, User.email)
            .outerjoin(User, User.id == Decision.user_id)
            .where(Decision.report_id == report.id)
            .order_by(Decision.id.desc())
        )
    ]
    slug = session.execute(
        select(Platform.slug).where(Platform.id == report.platform_id)
    ).scalar_one()
    return ItemView(
        report=report,
        platform_slug=slug,
        media=media_views,
        signals=[s for s in signals if s.kind != SignalKind.BANK],
        bank_signals=[s for s in signals if s.kind == SignalKind.BANK],
        text_segments=segments(report.content_text, _text_hits(signals, TextField.CONTENT_TEXT)),
        comment_segments=segments(report.comment, _text_hits(signals, TextField.COMMENT)),
        cluster=cluster,
        by_same_account=by_account,
        in_same_channel=in_channel,
        decisions=history,
    )
