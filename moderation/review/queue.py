"""The review queue: filtered listing in priority order with SLA timers, per-category counts and
neighbour navigation. Claims (who is reviewing what) live in moderation/review/claims.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from models import (
    OPEN_STATUSES,
    Decision,
    DecisionState,
    Media,
    Platform,
    Report,
    ReviewClaim,
    Signal,
    SignalKind,
    User,
    utcnow,
)
from moderation.core import sla

AGE_CHOICES = (1, 6, 24, 72)  # "older than N hours" filter values
LANGUAGES = ("ko", "en", "und")  # what triage's language guess can say (a filter)
PER_PAGE = 50


@dataclass(frozen=True)
class QueueFilters:
    """What the moderator narrowed the queue to; empty values mean 'any'."""

    category: str | None = None
    platform: str | None = None  # platform slug
    bank: bool | None = None  # True: only bank matches; False: only without
    language: str | None = None
    older_than_hours: int | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        """Parse query-string values; unknown or malformed values are ignored, never an error."""
        bank = {"yes": True, "no": False}.get(args.get("bank", ""))
        age = args.get("age", "")
        older = int(age) if age.isdigit() and int(age) in AGE_CHOICES else None
        language = (args.get("language") or "").strip()[:16] or None
        return cls(
            category=(args.get("category") or "").strip()[:32] or None,
            platform=(args.get("platform") or "").strip()[:64] or None,
            bank=bank,
            language=language,
            older_than_hours=older,
        )

    def as_args(self) -> dict[str, str]:
        args: dict[str, str] = {}
        if self.category:
            args["category"] = self.category
        if self.platform:
            args["platform"] = self.platform
        if self.bank is not None:
            args["bank"] = "yes" if self.bank else "no"
        if self.language:
            args["language"] = self.language
        if self.older_than_hours:
            args["age"] = str(self.older_than_hours)
        return args


@dataclass(frozen=True)
class QueueItem:
    report: Report
    sla_deadline: datetime
    seconds_left: int
    holder_email: str | None
    held_by_me: bool
    pending_decision: bool
    bank_match: bool

    @property
    def overdue(self) -> bool:
        return self.seconds_left < 0


@dataclass(frozen=True)
class QueueListing:
    items: list[QueueItem]
    total: int
    page: int
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)  # per category, unfiltered
    platforms: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)


def sla_deadline(sla_hours: Mapping[str, Any], report: Report) -> datetime:
    """The report's review deadline under the SLA table (see moderation/core/sla.py)."""
    deadline = sla.sla_deadline(sla_hours, report.category, report.received_at)
    assert deadline is not None, "a stored report always has received_at"
    return deadline


def _has_language() -> bool:
    return hasattr(Report, "language")


def _bank_exists() -> ColumnElement[bool]:
    return exists().where(Signal.report_id == Report.id, Signal.kind == SignalKind.BANK)


def _pending_exists() -> ColumnElement[bool]:
    return exists().where(
        Decision.report_id == Report.id, Decision.state == DecisionState.PENDING.value
    )


def _image_exists() -> ColumnElement[bool]:
    return exists().where(Media.report_id == Report.id)


def base_clause(
    visible: ColumnElement[bool], filters: QueueFilters, now: datetime, images_allowed: bool = True
) -> list[ColumnElement[bool]]:
    """Where-clauses of the queue for a user: visible reports, awaiting review, filtered.

    Without `images_allowed` (a wellness break), reports with media are left out unless a bank
    match lets them be decided without viewing.
    """
    clauses: list[ColumnElement[bool]] = [Report.status.in_(OPEN_STATUSES), visible]
    if filters.category:
        clauses.append(Report.category == filters.category)
    if filters.platform:
        clauses.append(
            Report.platform_id.in_(select(Platform.id).where(Platform.slug == filters.platform))
        )
    if filters.bank is True:
        clauses.append(_bank_exists())
    elif filters.bank is False:
        clauses.append(~_bank_exists())
    if filters.language and _has_language():
        clauses.append(Report.language == filters.language)  # type: ignore[attr-defined]
    if filters.older_than_hours:
        clauses.append(Report.received_at < now - timedelta(hours=filters.older_than_hours))
    if not images_allowed:
        clauses.append(or_(~_image_exists(), _bank_exists()))
    return clauses


def _order() -> tuple[Any, ...]:
    return (Report.priority.desc(), Report.received_at.asc(), Report.id.asc())


def list_queue(
    session: Session,
    sla_hours: Mapping[str, Any],
    user_id: int,
    visible: ColumnElement[bool],
    filters: QueueFilters,
    page: int = 1,
    images_allowed: bool = True,
) -> QueueListing:
    """One page of the queue, highest priority first then oldest, with SLA timers, who holds
    each item, and per-category counts of everything the user may see."""
    now = utcnow()
    page = max(1, min(page, 10_000))
    clauses = base_clause(visible, filters, now, images_allowed)
    reports = list(
        session.execute(
            select(Report)
            .where(*clauses)
            .order_by(*_order())
            .options(selectinload(Report.media))
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        ).scalars()
    )
    ids = [report.id for report in reports]
    holders: dict[int, tuple[int, str]] = {}
    pending: set[int] = set()
    banked: set[int] = set()
    if ids:
        for report_id, holder_id, email in session.execute(
            select(ReviewClaim.report_id, ReviewClaim.user_id, User.email)
            .join(User, User.id == ReviewClaim.user_id)
            .where(ReviewClaim.report_id.in_(ids), ReviewClaim.expires_at > now)
        ):
            holders[report_id] = (holder_id, email)
        pending = set(
            session.execute(
                select(Decision.report_id).where(
                    Decision.report_id.in_(ids), Decision.state == DecisionState.PENDING.value
                )
            ).scalars()
        )
        banked = set(
            session.execute(
                select(Signal.report_id).where(
                    Signal.report_id.in_(ids), Signal.kind == SignalKind.BANK
                )
            ).scalars()
        )
    items = []
    for report in reports:
        deadline = sla_deadline(sla_hours, report)
        holder = holders.get(report.id)
        items.append(
            QueueItem(
                report=report,
                sla_deadline=deadline,
                seconds_left=int((deadline - now).total_seconds()),
                holder_email=holder[1] if holder else None,
                held_by_me=bool(holder and holder[0] == user_id),
                pending_decision=report.id in pending,
                bank_match=report.id in banked,
            )
        )
    counts = dict(
        session.execute(
            select(Report.category, func.count())
            .where(Report.status.in_(OPEN_STATUSES), visible)
            .group_by(Report.category)
        ).all()
    )
    if filters == QueueFilters(category=filters.category) and images_allowed:
        # Only a category (or nothing) chosen: the per-category counts already hold the total.
        total = counts.get(filters.category, 0) if filters.category else sum(counts.values())
    else:
        total = session.execute(
            select(func.count()).select_from(Report).where(*clauses)
        ).scalar_one()
    platforms = list(session.execute(select(Platform.slug).order_by(Platform.slug)).scalars())
    return QueueListing(
        items,
        total,
        page,
        PER_PAGE,
        counts,
        platforms,
        languages=list(LANGUAGES) if _has_language() else [],
    )


def _after(report: Report) -> ColumnElement[bool]:
    """Reports after `report` in queue order (priority desc, received asc, id asc)."""
    return or_(
        Report.priority < report.priority,
        and_(
            Report.priority == report.priority,
            or_(
                Report.received_at > report.received_at,
                and_(Report.received_at == report.received_at, Report.id > report.id),
            ),
        ),
    )


def _before(report: Report) -> ColumnElement[bool]:
    return or_(
        Report.priority > report.priority,
        and_(
            Report.priority == report.priority,
            or_(
                Report.received_at < report.received_at,
                and_(Report.received_at == report.received_at, Report.id < report.id),
            ),
        ),
    )


def _open_to(user_id: int, now: datetime) -> ColumnElement[bool]:
    """Not held by anyone else, and no decision waiting for its undo window."""
    held_by_other = exists().where(
        ReviewClaim.report_id == Report.id,
        ReviewClaim.expires_at > now,
        ReviewClaim.user_id != user_id,
    )
    return and_(~held_by_other, ~_pending_exists())


def neighbour(
    session: Session,
    current: Report | None,
    user_id: int,
    visible: ColumnElement[bool],
    filters: QueueFilters,
    forward: bool = True,
    images_allowed: bool = True,
) -> int | None:
    """The id of the next (or previous) open report in queue order after `current` (from the
    top when `current` is None or no longer queued), or None when there is none."""
    now = utcnow()
    clauses = base_clause(visible, filters, now, images_allowed)
    clauses.append(_open_to(user_id, now))
    query = select(Report.id).where(*clauses)
    if current is not None:
        query = query.where(
            Report.id != current.id, _after(current) if forward else _before(current)
        )
    order = (
        _order()
        if forward
        else (Report.priority.asc(), Report.received_at.desc(), Report.id.desc())
    )
    return session.execute(query.order_by(*order).limit(1)).scalar_one_or_none()
