"""Cases as plain documents: one shape for `moderation case list/show --json` and, later, the
case pages, so the reader and the producer of a case's fields never disagree."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Case, CaseReport, MediaHold, Platform, Report, User, utcnow
from moderation.cases.escalation import escalations_of
from moderation.cases.holds import active_hold_clause
from moderation.cases.service import referral_clock


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _emails(session: Session, user_ids: set[int | None]) -> dict[int, str]:
    ids = [user_id for user_id in user_ids if user_id is not None]
    if not ids:
        return {}
    return {
        row[0]: row[1]
        for row in session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    }


def report_ids_of(session: Session, case_id: int) -> list[int]:
    return list(
        session.execute(
            select(CaseReport.report_id)
            .where(CaseReport.case_id == case_id)
            .order_by(CaseReport.report_id)
        ).scalars()
    )


def case_summary(session: Session, case: Case) -> dict[str, Any]:
    """The fields of a case list row."""
    emails = _emails(session, {case.assigned_liaison_id})
    count = session.execute(
        select(func.count()).select_from(CaseReport).where(CaseReport.case_id == case.id)
    ).scalar_one()
    return {
        "id": case.id,
        "number": case.number,
        "type": str(case.case_type),
        "urgency": str(case.urgency),
        "status": str(case.status),
        "language": case.language,
        "assigned_liaison": emails.get(case.assigned_liaison_id or 0),
        "opened_at": _iso(case.opened_at),
        "report_count": count,
        "referral": referral_clock(case).to_dict(),
    }


def case_detail(session: Session, case: Case) -> dict[str, Any]:
    """Everything `case show` prints: the workflow with who and when, the reports with why
    they were escalated, the notes and the holds."""
    report_ids = report_ids_of(session, case.id)
    reports = (
        list(session.execute(select(Report).where(Report.id.in_(report_ids))).scalars())
        if report_ids
        else []
    )
    platforms = {row[0]: row[1] for row in session.execute(select(Platform.id, Platform.slug))}
    escalations = escalations_of(session, report_ids)
    people = {
        case.assigned_liaison_id,
        case.opened_by_id,
        case.referred_by_id,
        case.acknowledged_by_id,
        case.closed_by_id,
        *(note.author_id for note in case.notes),
    }
    emails = _emails(session, people)
    now = utcnow()
    holds = list(
        session.execute(
            select(MediaHold).where(MediaHold.case_id == case.id).order_by(MediaHold.id)
        ).scalars()
    )
    active = set(
        session.execute(
            select(MediaHold.id).where(MediaHold.case_id == case.id, active_hold_clause(now))
        ).scalars()
    )

    def who(user_id: int | None) -> str | None:
        return emails.get(user_id) if user_id is not None else None

    document = case_summary(session, case)
    document.update(
        {
            "reason": case.reason,
            "opened_by": who(case.opened_by_id),
            "workflow": {
                "referred": {"at": _iso(case.referred_at), "by": who(case.referred_by_id)},
                "acknowledged": {
                    "at": _iso(case.acknowledged_at),
                    "by": who(case.acknowledged_by_id),
                },
                "closed": {
                    "at": _iso(case.closed_at),
                    "by": who(case.closed_by_id),
                    "reason": case.close_reason,
                },
            },
            "reports": [
                {
                    "id": report.id,
                    "platform": platforms.get(report.platform_id),
                    "external_id": report.external_id,
                    "category": report.category,
                    "status": str(report.status),
                    "cluster_id": report.cluster_id,
                    "escalation": (
                        escalations[report.id].to_dict() if report.id in escalations else None
                    ),
                }
                for report in sorted(reports, key=lambda r: r.id)
            ],
            "notes": [
                {
                    "id": note.id,
                    "by": who(note.author_id),
                    "at": _iso(note.created_at),
                    "body": note.body,
                }
                for note in case.notes
            ],
            "holds": {
                "active": len(active),
                "total": len(holds),
                "expires_at": _iso(
                    max((h.expires_at for h in holds if h.id in active), default=None)
                ),
            },
        }
    )
    return document
