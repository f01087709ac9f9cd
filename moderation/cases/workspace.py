"""The liaison workspace's pages, each one service call: the case list, the escalated reports
waiting for a case, and the case page (its timeline, its reports as review shows them, the
spread of every known copy, the people and places involved, and police requests).

The case page reuses the review item's view of each report (blurred previews, texts with their
detected spans), so a liaison sees exactly what a moderator saw; revealing stays on the item
page, audited and counted toward the wellness caps there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from models import (
    AuditEvent,
    Case,
    Platform,
    PoliceRequest,
    Report,
    Role,
    User,
)
from moderation.accounts.permissions import visible_reports_clause
from moderation.audit import events as audit
from moderation.cases import police
from moderation.cases.access import require_case
from moderation.cases.actor import Actor
from moderation.cases.escalation import escalated_reports
from moderation.cases.evidence_document import _people, _spread_timeline
from moderation.cases.presenting import case_detail, case_summary, report_ids_of
from moderation.cases.service import TRANSITIONS, cluster_ids_of, list_cases
from moderation.review.item import ItemView, item_view

# Audit actions on a case's reports that belong on its timeline (not every page view).
_REPORT_TIMELINE = ("decision.", "case.", "report.escalate", "media.reveal", "contact.view")


@dataclass(frozen=True)
class CaseList:
    rows: list[dict[str, Any]]
    status: str | None
    waiting_escalations: int  # escalated reports in no case (seniors and admins only)


def open_case_list(
    session: Session, actor: Actor, status: str | None, *, sees_all: bool
) -> CaseList:
    cases = list_cases(session, actor, status=status or None)
    rows = [case_summary(session, case) for case in cases]
    waiting = len(escalations_page(session, actor, waiting_only=True)) if sees_all else 0
    session.commit()
    return CaseList(rows, status or None, waiting)


def escalations_page(session: Session, actor: Actor, *, waiting_only: bool) -> list[dict[str, Any]]:
    """Escalated reports the actor may know, newest first, with who escalated them, why, and
    their cases; `waiting_only`: those no case holds yet."""
    assert actor.user is not None
    platforms = dict(session.execute(select(Platform.id, Platform.slug)).all())
    return [
        {"report": report, "platform": platforms.get(report.platform_id), "escalation": why,
         "case_ids": case_ids}
        for report, why, case_ids in escalated_reports(
            session, visible_reports_clause(actor.principal), without_case=waiting_only
        )
    ]  # fmt: skip


def liaisons(session: Session) -> list[User]:
    return list(
        session.execute(
            select(User)
            .where(User.role == Role.LIAISON, User.active.is_(True))
            .order_by(User.email)
        ).scalars()
    )


@dataclass(frozen=True)
class CasePage:
    case: Case
    detail: dict[str, Any]
    reports: list[ItemView]
    spread: list[dict[str, Any]]
    accounts: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    next_statuses: tuple[str, ...]
    liaisons: list[User]


def _timeline(
    session: Session, case: Case, report_ids: list[int], emails: dict[int, str]
) -> list[dict[str, Any]]:
    on_reports = and_(
        AuditEvent.object_type == "report",
        AuditEvent.object_id.in_([str(i) for i in report_ids]),
        or_(*(AuditEvent.action.startswith(prefix) for prefix in _REPORT_TIMELINE)),
    )
    on_case = and_(AuditEvent.object_type == "case", AuditEvent.object_id == str(case.id))
    rows = session.execute(
        select(AuditEvent)
        .where(or_(on_case, on_reports) if report_ids else on_case)
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
        .limit(1000)
    ).scalars()
    return [
        {
            "at": event.occurred_at,
            "action": event.action,
            "who": emails.get(event.actor_user_id or 0) or event.actor_kind,
            "object": f"{event.object_type} {event.object_id}",
        }
        for event in rows
    ]


def open_case_page(session: Session, case_id: int, actor: Actor, *, may_assign: bool) -> CasePage:
    """The case page for `actor`; records `case.view` and commits once. Raises NotFoundError
    for a case the actor may not know exists."""
    assert actor.user is not None
    case = require_case(session, case_id, actor)
    detail = case_detail(session, case)
    report_ids = report_ids_of(session, case.id)
    visible = visible_reports_clause(actor.principal)
    views = [item_view(session, report_id, visible) for report_id in report_ids]
    platforms = dict(session.execute(select(Platform.id, Platform.slug)).all())
    clusters = cluster_ids_of(session, report_ids)
    spread = _spread_timeline(session, report_ids, clusters, platforms)
    # Copies outside the case that this actor may not know about stay out of its page.
    allowed = set(
        session.execute(
            select(Report.id).where(Report.id.in_([row["report_id"] for row in spread]), visible)
        ).scalars()
    )
    spread = [row for row in spread if row["report_id"] in allowed]
    accounts, channels = _people([view.report for view in views], platforms)
    emails = dict(session.execute(select(User.id, User.email)).all())
    requests = [
        police.request_dict(request)
        for request in session.execute(
            select(PoliceRequest)
            .where(PoliceRequest.case_id == case.id)
            .order_by(PoliceRequest.received_at.desc())
        ).scalars()
    ]
    page = CasePage(
        case=case,
        detail=detail,
        reports=views,
        spread=spread,
        accounts=accounts,
        channels=channels,
        timeline=_timeline(session, case, report_ids, emails),
        requests=requests,
        next_statuses=tuple(str(s) for s in TRANSITIONS[case.status]),
        liaisons=liaisons(session) if may_assign else [],
    )
    audit.record(
        session,
        "case.view",
        **actor.audit(),
        object_type="case",
        object_id=case.id,
        details={"report_ids": report_ids},
    )
    session.commit()
    return page
