"""Decided and escalated reports, found again: a filtered list (outcome, moderator, category,
platform, dates) and one search box that takes whatever a person has in hand: a report id, the
platform's external id, a content URL, a portal receipt number, or a medium's SHA-256, MD5 or
PDQ (nearest within 31 bits, through the media PDQ index triage keeps).

Only reports the viewer may know exist are ever listed (the permissions' report clause), so a
hash search cannot reveal a restricted report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from models import Decision, DecisionState, Media, MediaHash, Platform, PortalReceipt, Report, User
from moderation.intake.portal import normalise_receipt_number
from moderation.triage.clusters import ClusterSettings, media_index

PER_PAGE = 50
PDQ_DISTANCE = 31
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class HistoryFilters:
    action: str = ""  # a policy code, or a prefix such as "remove."
    moderator: str = ""  # an email
    category: str = ""
    platform: str = ""  # a slug
    since: date | None = None
    until: date | None = None
    query: str = ""

    @classmethod
    def from_args(cls, args: Any) -> HistoryFilters:
        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(args.get(name, ""))
            except ValueError:
                return None

        text = {name: str(args.get(name, "")).strip()[:200] for name in (
            "action", "moderator", "category", "platform", "q")}  # fmt: skip
        return cls(
            action=text["action"],
            moderator=text["moderator"].lower(),
            category=text["category"],
            platform=text["platform"],
            since=day("since"),
            until=day("until"),
            query=text["q"],
        )

    def as_args(self) -> dict[str, str]:
        values = {
            "action": self.action, "moderator": self.moderator, "category": self.category,
            "platform": self.platform, "q": self.query,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }  # fmt: skip
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True)
class HistoryRow:
    report: Report
    platform: str | None
    decision: Decision | None
    decided_by: str | None
    pdq_distance: int | None = None


@dataclass(frozen=True)
class HistoryPage:
    rows: list[HistoryRow]
    page: int
    total: int
    filters: HistoryFilters
    matched_by: str | None  # what the search box matched ("report id", "sha256", ...)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PER_PAGE))


def _search(
    session: Session, text: str, clusters: ClusterSettings | None
) -> tuple[ColumnElement[bool], str, dict[int, int]]:
    """A clause over Report for the search box, what it matched, and PDQ distances by report."""
    lowered = text.lower()
    if text.lstrip("#").isdigit() and len(text) < 12:
        return Report.id == int(text.lstrip("#")), "report id", {}
    if _HEX.match(lowered) and len(lowered) in (32, 64):
        column = Media.md5 if len(lowered) == 32 else Media.sha256
        exact = select(Media.report_id).where(column == lowered)
        if len(lowered) == 32:
            return Report.id.in_(exact), "md5", {}
        distances: dict[int, int] = {}
        if clusters is not None:
            hits = media_index(clusters).search(session, [lowered], PDQ_DISTANCE)
            ids = [row_id for row_id, _ in (hits[0] if hits else [])]
            by_row = dict(hits[0]) if hits else {}
            if ids:
                for row_id, report_id in session.execute(
                    select(MediaHash.id, MediaHash.report_id).where(MediaHash.id.in_(ids))
                ):
                    distance = by_row[row_id]
                    distances[report_id] = min(distance, distances.get(report_id, distance))
        return (
            or_(Report.id.in_(exact), Report.id.in_(list(distances))),
            "sha256 or pdq",
            distances,
        )
    receipt = normalise_receipt_number(text)
    if receipt:
        by_receipt = select(PortalReceipt.report_id).where(PortalReceipt.number == receipt)
        if session.execute(by_receipt.limit(1)).first():
            return Report.id.in_(by_receipt), "receipt number", {}
    if lowered.startswith(("http://", "https://")):
        return Report.content_url == text, "content url", {}
    return Report.external_id == text, "external id", {}


def history_page(
    session: Session,
    visible: ColumnElement[bool],
    filters: HistoryFilters,
    page: int,
    clusters: ClusterSettings | None,
) -> HistoryPage:
    """One page of decided and escalated reports (newest decision first). Read-only."""
    latest = (
        select(Decision.report_id, func.max(Decision.id).label("decision_id"))
        .where(Decision.state == DecisionState.FINAL)
        .group_by(Decision.report_id)
        .subquery()
    )
    query = (
        select(Report, Decision, Platform.slug, User.email)
        .join(latest, latest.c.report_id == Report.id)
        .join(Decision, Decision.id == latest.c.decision_id)
        .join(Platform, Platform.id == Report.platform_id)
        .outerjoin(User, User.id == Decision.user_id)
        .where(visible)
    )
    conditions: list[ColumnElement[bool]] = []
    if filters.action:
        conditions.append(
            Decision.action.startswith(filters.action)
            if filters.action.endswith(".")
            else Decision.action == filters.action
        )
    if filters.moderator:
        conditions.append(func.lower(User.email) == filters.moderator)
    if filters.category:
        conditions.append(Report.category == filters.category)
    if filters.platform:
        conditions.append(Platform.slug == filters.platform)
    if filters.since:
        conditions.append(Decision.created_at >= _start(filters.since))
    if filters.until:
        conditions.append(Decision.created_at < _start(filters.until + timedelta(days=1)))
    matched_by, distances = None, {}
    if filters.query:
        clause, matched_by, distances = _search(session, filters.query, clusters)
        conditions.append(clause)
    if conditions:
        query = query.where(and_(*conditions))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    page = max(1, page)
    rows = session.execute(
        query.order_by(Decision.id.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    ).all()
    return HistoryPage(
        rows=[
            HistoryRow(report, slug, decision, email, distances.get(report.id))
            for report, decision, slug, email in rows
        ],
        page=page,
        total=int(total),
        filters=filters,
        matched_by=matched_by,
    )


def open_history(
    session: Session,
    user_id: int,
    visible: ColumnElement[bool],
    filters: HistoryFilters,
    page: int,
    clusters: ClusterSettings | None,
) -> HistoryPage:
    """The history page for a user; a search is an audit event (what it matched and how many,
    never the text typed, which may be a URL). Commits once."""
    from moderation.audit import events as audit

    result = history_page(session, visible, filters, page, clusters)
    if filters.query:
        audit.record(
            session,
            "history.search",
            actor_user_id=user_id,
            object_type="report",
            details={"matched_by": result.matched_by, "results": result.total},
        )
    session.commit()
    return result


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)
