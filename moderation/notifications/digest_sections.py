"""The sections of a digest, each a count and the first items: for a liaison, the cases and
police requests they may know; for a senior, the queue. Items carry ids, numbers, categories
and times, never content or names (moderation/notifications/digests.py sends them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import (
    OPEN_STATUSES,
    AuditEvent,
    Case,
    CaseStatus,
    ExposureDay,
    PoliceRequest,
    PoliceRequestStatus,
    Report,
    User,
)
from moderation.accounts.permissions import Principal, visible_reports_clause
from moderation.cases.access import visible_cases_clause
from moderation.cases.actor import Actor
from moderation.cases.escalation import escalated_reports
from moderation.core.sla import sla_hours
from moderation.notifications.settings import NotificationSettings

LISTED = 20  # items listed per section (the count says how many there are)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


@dataclass
class Section:
    count: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "items": self.items[:LISTED]}


def _case_item(case: Case, user_id: int) -> dict[str, Any]:
    return {
        "id": case.id,
        "number": case.number,
        "type": str(case.case_type),
        "urgency": str(case.urgency),
        "mine": case.assigned_liaison_id == user_id,
        "opened_at": iso(case.opened_at),
        "referral_due_at": iso(case.referral_due_at),
    }


def _assigned_in_window(
    session: Session, user_id: int, since: datetime, until: datetime
) -> set[int]:
    """Cases assigned to `user_id` in the window (from the audit log: the case keeps no
    assignment time)."""
    rows = session.execute(
        select(AuditEvent.object_id, AuditEvent.details).where(
            AuditEvent.action == "case.assign",
            AuditEvent.occurred_at > since,
            AuditEvent.occurred_at <= until,
        )
    ).all()
    return {
        int(object_id)
        for object_id, details in rows
        if isinstance(details, dict) and details.get("assigned_liaison_id") == user_id
    }


def _visible_requests(visible_cases: Any) -> Any:
    return or_(
        PoliceRequest.case_id.is_(None),
        PoliceRequest.case_id.in_(select(Case.id).where(visible_cases)),
    )


def liaison_sections(
    session: Session, user: User, settings: NotificationSettings, since: datetime, until: datetime
) -> dict[str, dict[str, Any]]:
    """A liaison's sections: the cases and requests `user` may know, nothing else."""
    visible = visible_cases_clause(Actor.of(user, settings.csam_roles))
    mine_or_unassigned = or_(
        Case.assigned_liaison_id == user.id, Case.assigned_liaison_id.is_(None)
    )
    assigned_now = _assigned_in_window(session, user.id, since, until)
    new_cases = session.execute(
        select(Case)
        .where(
            visible,
            Case.status != CaseStatus.CLOSED.value,
            or_(
                (Case.opened_at > since) & (Case.opened_at <= until) & mine_or_unassigned,
                Case.id.in_(assigned_now or {0}) & (Case.assigned_liaison_id == user.id),
            ),
        )
        .order_by(Case.id)
    ).scalars()
    waiting = session.execute(
        select(Case)
        .where(visible, Case.assigned_liaison_id == user.id, Case.status == CaseStatus.OPEN.value)
        .order_by(Case.referral_due_at, Case.id)
    ).scalars()
    breached = session.execute(
        select(Case)
        .where(
            visible,
            mine_or_unassigned,
            Case.referred_at.is_(None),
            Case.status != CaseStatus.CLOSED.value,
            Case.referral_due_at <= until,
        )
        .order_by(Case.referral_due_at, Case.id)
    ).scalars()
    is_open = PoliceRequest.status == PoliceRequestStatus.OPEN.value
    requests = list(
        session.execute(
            select(PoliceRequest, Case.number)
            .outerjoin(Case, Case.id == PoliceRequest.case_id)
            .where(
                is_open,
                _visible_requests(visible),
                PoliceRequest.due_at.is_not(None),
                PoliceRequest.due_at <= until + timedelta(hours=24),
            )
            .order_by(PoliceRequest.due_at, PoliceRequest.id)
        ).all()
    )
    sections = {
        name: Section()
        for name in ("new_cases", "waiting", "police_due", "police_overdue", "sla_breaches")
    }
    for name, cases in (("new_cases", new_cases), ("waiting", waiting), ("sla_breaches", breached)):
        for case in cases:
            sections[name].count += 1
            sections[name].items.append(_case_item(case, user.id))
    for request, number in requests:
        # Ids, the case number and the due time only: agency and officer stay on the row.
        item = {"id": request.id, "case_number": number, "due_at": iso(request.due_at)}
        name = "police_overdue" if request.due_at <= until else "police_due"
        sections[name].count += 1
        sections[name].items.append(item)
    return {name: section.to_dict() for name, section in sections.items()}


def queue_sections(
    session: Session, user: User, settings: NotificationSettings, since: datetime, until: datetime
) -> dict[str, dict[str, Any]]:
    """A senior's queue sections, limited to the reports `user` may know."""
    visible = visible_reports_clause(Principal(user, settings.csam_roles))
    is_open = Report.status.in_(OPEN_STATUSES)
    overdue: list[dict[str, Any]] = []
    categories = session.execute(
        select(Report.category).where(is_open, visible).group_by(Report.category)
    ).scalars()
    for category in sorted(categories):
        deadline_start = until - timedelta(hours=sla_hours(settings.sla_hours, category))
        count = session.execute(
            select(func.count()).where(
                is_open, visible, Report.category == category, Report.received_at < deadline_start
            )
        ).scalar_one()
        if count:
            overdue.append({"category": category, "count": count})
    oldest = session.execute(
        select(Report.id, Report.category, Report.received_at)
        .where(is_open, visible)
        .order_by(Report.received_at, Report.id)
        .limit(1)
    ).first()
    # Bounded: past 500 the digest says "500" and the page has the rest.
    waiting = escalated_reports(session, visible, without_case=True, limit=500)
    # Moderators who reached a daily cap (reveals or minutes) on a UTC day of the window.
    capped = session.execute(
        select(func.count(func.distinct(ExposureDay.user_id))).where(
            ExposureDay.day >= since.astimezone(UTC).date(),
            ExposureDay.day <= until.astimezone(UTC).date(),
            or_(
                ExposureDay.reveals >= settings.daily_reveals,
                ExposureDay.exposure_seconds >= settings.daily_exposure_minutes * 60,
            ),
        )
    ).scalar_one()
    oldest_item = None
    if oldest is not None:
        received = oldest[2] if oldest[2].tzinfo else oldest[2].replace(tzinfo=UTC)
        oldest_item = {"id": oldest[0], "category": oldest[1], "received_at": iso(received)}
    escalations = [{"id": report.id, "category": report.category} for report, _, _ in waiting]
    return {
        "overdue": {"count": sum(row["count"] for row in overdue), "items": overdue},
        "oldest": {"count": 1 if oldest_item else 0, "items": [oldest_item] if oldest_item else []},
        "escalations_waiting": {"count": len(escalations), "items": escalations[:LISTED]},
        "wellness_caps": {"count": capped, "items": []},
    }
