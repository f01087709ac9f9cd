"""Urgent alerts, sent at once rather than in a digest: a case of suspected CSAM or of a person
in immediate danger, and a police request due within ALERT_POLICE_DUE_HOURS. Each goes once to
each person who may know about it and has alerts on; the outbox row per person and subject
("alert:case:12") makes it once however many rounds run. An alert says no more than a digest:
the case number, type and urgency, or the request's id and due time.

The round runs every CRON_ALERT_INTERVAL_SECONDS (30 s) from `moderation cron`, so an urgent
case alerts within a minute without the case service knowing about email.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import (
    Case,
    CaseReport,
    CaseStatus,
    CaseType,
    CaseUrgency,
    MailKind,
    NotificationPreferences,
    OutgoingMail,
    PoliceRequest,
    PoliceRequestStatus,
    User,
    utcnow,
)
from moderation.cases.access import CASE_ROLES, restricted_case_clause, visible_cases_clause
from moderation.cases.actor import Actor
from moderation.notifications import outbox, preferences
from moderation.notifications.digest_sections import iso
from moderation.notifications.settings import NotificationSettings

# Cases older than this are not alerted on (an alert is news; the digest keeps the rest).
ALERT_LOOKBACK = timedelta(days=2)


def _case_roles_with_alerts(
    session: Session, settings: NotificationSettings
) -> list[tuple[User, preferences.Preferences]]:
    rows = session.execute(
        select(User, NotificationPreferences)
        .outerjoin(NotificationPreferences, NotificationPreferences.user_id == User.id)
        .where(User.active.is_(True), User.role.in_([str(role) for role in CASE_ROLES]))
        .order_by(User.id)
    ).all()
    people = [(user, preferences.of_row(row, settings)) for user, row in rows]
    return [(user, prefs) for user, prefs in people if prefs.urgent_alerts]


def _knows_case(session: Session, user: User, case_id: int, settings: NotificationSettings) -> bool:
    visible = visible_cases_clause(Actor.of(user, settings.csam_roles))
    return session.execute(select(Case.id).where(Case.id == case_id, visible)).first() is not None


def _recorded(session: Session, periods: list[str]) -> set[tuple[str, str]]:
    if not periods:
        return set()
    return {
        (row[0], row[1])
        for row in session.execute(
            select(OutgoingMail.recipient_key, OutgoingMail.period).where(
                OutgoingMail.period.in_(periods)
            )
        )
    }


def urgent_cases(session: Session, now: datetime) -> list[Case]:
    """Open cases opened lately that are suspected CSAM (by type or content) or immediate."""
    return list(
        session.execute(
            select(Case)
            .where(
                Case.status != CaseStatus.CLOSED.value,
                Case.opened_at >= now - ALERT_LOOKBACK,
                or_(
                    Case.urgency == CaseUrgency.IMMEDIATE.value,
                    Case.case_type == CaseType.CSAM_SUSPECTED.value,
                    restricted_case_clause(),
                ),
            )
            .order_by(Case.id)
        ).scalars()
    )


def due_requests(session: Session, now: datetime, settings: NotificationSettings) -> list[Any]:
    return list(
        session.execute(
            select(PoliceRequest, Case.number)
            .outerjoin(Case, Case.id == PoliceRequest.case_id)
            .where(
                PoliceRequest.status == PoliceRequestStatus.OPEN.value,
                PoliceRequest.due_at.is_not(None),
                PoliceRequest.due_at <= now + timedelta(hours=settings.police_due_hours),
                PoliceRequest.due_at >= now - ALERT_LOOKBACK,
            )
            .order_by(PoliceRequest.due_at, PoliceRequest.id)
        ).all()
    )


def alert_round(
    session: Session, settings: NotificationSettings, now: datetime | None = None
) -> list[int]:
    """Record every alert not yet recorded; commits each and returns their outbox ids."""
    now = now or utcnow()
    people = _case_roles_with_alerts(session, settings)
    planned: list[tuple[User, preferences.Preferences, str, dict[str, Any]]] = []
    for case in urgent_cases(session, now):
        reports = session.execute(
            select(func.count()).select_from(CaseReport).where(CaseReport.case_id == case.id)
        ).scalar_one()
        context = {
            "case": {
                "id": case.id,
                "number": case.number,
                "type": str(case.case_type),
                "urgency": str(case.urgency),
                "report_count": reports,
                "opened_at": iso(case.opened_at),
            }
        }
        for user, prefs in people:
            # Suspected CSAM reaches only CSAM_ROLES; a liaison only their own and unassigned.
            if _knows_case(session, user, case.id, settings):
                planned.append((user, prefs, f"alert:case:{case.id}", context))
    for request, number in due_requests(session, now, settings):
        context = {
            "request": {
                "id": request.id,
                "case_number": number,
                "due_at": iso(request.due_at),
            }
        }
        for user, prefs in people:
            if request.case_id is None or _knows_case(session, user, request.case_id, settings):
                planned.append((user, prefs, f"alert:police:{request.id}", context))
    done = _recorded(session, sorted({period for _, _, period, _ in planned}))
    plan = [
        (user.id, prefs, period, context)
        for user, prefs, period, context in planned
        if (f"user:{user.id}", period) not in done
    ]
    session.rollback()  # end the reads; each record is its own transaction
    recorded = []
    for user_id, prefs, period, context in plan:
        row = outbox.record(
            session,
            settings,
            kind=MailKind.URGENT_ALERT,
            recipient_key=f"user:{user_id}",
            user_id=user_id,
            period=period,
            language=prefs.language,
            context={**context, "time_zone": prefs.time_zone},
        )
        if row is not None:
            recorded.append(row.id)
    return recorded
