"""Reading reports: the item page's view of one report and the platforms' status view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from models import Decision, DecisionState, Media, Platform, Report, Signal
from moderation.core.errors import NotFoundError
from moderation.review import decisions

RELATED_LIMIT = 20
_TEXT_FIELDS = ("content_text", "comment")


@dataclass(frozen=True)
class Segment:
    """A piece of reported text; `hit` is the text signal covering it, or None."""

    text: str
    hit: dict[str, Any] | None = None


@dataclass
class MediaView:
    media: Media
    boxes: list[dict[str, Any]] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)


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
    decisions: list[Decision]

    @property
    def bank_match(self) -> bool:
        return bool(self.bank_signals)

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
    def has_media(self) -> bool:
        return bool(self.media)


def segments(text: str | None, spans: list[dict[str, Any]]) -> list[Segment]:
    """Split `text` into plain and highlighted pieces from signal spans (start/end offsets).

    Overlapping spans merge (the most severe one labels the piece); spans outside the text are
    clipped or dropped. The template escapes every piece, so no markup from the text survives.
    """
    if not text:
        return []
    cleaned = []
    for span in spans:
        start, end = span.get("start"), span.get("end")
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        start, end = max(0, start), min(len(text), end)
        if start < end:
            cleaned.append((start, end, span))
    cleaned.sort(key=lambda item: (item[0], -item[1]))
    merged: list[tuple[int, int, dict[str, Any]]] = []
    for start, end, span in cleaned:
        if merged and start < merged[-1][1]:
            prev_start, prev_end, prev = merged[-1]
            worse = span if int(span.get("severity", 0)) > int(prev.get("severity", 0)) else prev
            merged[-1] = (prev_start, max(prev_end, end), worse)
        else:
            merged.append((start, end, span))
    pieces: list[Segment] = []
    position = 0
    for start, end, span in merged:
        if start > position:
            pieces.append(Segment(text[position:start]))
        pieces.append(Segment(text[start:end], span))
        position = end
    if position < len(text):
        pieces.append(Segment(text[position:]))
    return pieces


def _text_spans(signals: list[Signal], field_name: str) -> list[dict[str, Any]]:
    spans = []
    for signal in signals:
        if signal.kind != "text":
            continue
        details = dict(signal.details or {})
        # Older signals carry no field: they were found in the content text.
        if details.get("field", "content_text") in (
            field_name,
            field_name.removeprefix("content_"),
        ):
            details.setdefault("label", signal.label)
            spans.append(details)
    return spans


def item_view(session: Session, report_id: int, visible: ColumnElement[bool]) -> ItemView:
    """Everything the item page shows about one report; NotFoundError if unknown.

    The caller checks permission on the returned report; related lists are limited to reports
    `visible` to the user. Finalises any decision on it whose undo window has passed first.
    """
    decisions.finalize_due(session, [report_id])
    report = session.execute(
        select(Report)
        .where(Report.id == report_id)
        .options(selectinload(Report.media), selectinload(Report.signals))
    ).scalar_one_or_none()
    if report is None:
        raise NotFoundError("no such report")
    signals = list(report.signals)
    media_views = {media.id: MediaView(media) for media in report.media}
    for signal in signals:
        if signal.kind == "classifier" and signal.media_id in media_views:
            details = signal.details or {}
            view = media_views[signal.media_id]
            view.boxes.extend(b for b in details.get("boxes", []) if isinstance(b, dict))
            view.labels.extend(lbl for lbl in details.get("labels", []) if isinstance(lbl, dict))
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
    history = list(
        session.execute(
            select(Decision).where(Decision.report_id == report.id).order_by(Decision.id.desc())
        ).scalars()
    )
    slug = session.execute(
        select(Platform.slug).where(Platform.id == report.platform_id)
    ).scalar_one()
    return ItemView(
        report=report,
        platform_slug=slug,
        media=list(media_views.values()),
        signals=[s for s in signals if s.kind != "bank"],
        bank_signals=[s for s in signals if s.kind == "bank"],
        text_segments=segments(report.content_text, _text_spans(signals, "content_text")),
        comment_segments=segments(report.comment, _text_spans(signals, "comment")),
        cluster=cluster,
        by_same_account=by_account,
        in_same_channel=in_channel,
        decisions=history,
    )


def _media_view(media: Media) -> dict[str, Any]:
    return {
        "sha256": media.sha256,
        "md5": media.md5,
        "pdq": media.pdq,
        "pdq_quality": media.pdq_quality,
        "state": media.state,
        "error": media.error,
    }


def report_status(session: Session, platform: Platform, report_id: int) -> dict[str, Any]:
    """The status document of one of `platform`'s reports; NotFoundError for anyone else's.

    A decision whose undo window has passed is finalised first, so the platform never sees a
    decision that could still be undone, nor a stale status."""
    decisions.finalize_due(session, [report_id])
    report = session.execute(
        select(Report)
        .where(Report.id == report_id, Report.platform_id == platform.id)
        .options(selectinload(Report.media))
    ).scalar_one_or_none()
    if report is None:
        raise NotFoundError("no such report")
    decision = session.execute(
        select(Decision)
        .where(Decision.report_id == report.id, Decision.state == DecisionState.FINAL.value)
        .order_by(Decision.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return {
        "id": report.id,
        "external_id": report.external_id,
        "status": report.status,
        "priority": report.priority,
        "priority_reasons": report.priority_reasons,
        "decision": None
        if decision is None
        else {
            "action": decision.action,
            "reason": decision.reason,
            "decided_at": decision.created_at.isoformat(),
        },
        "media": [_media_view(media) for media in report.media],
        "cluster_id": report.cluster_id,
    }
