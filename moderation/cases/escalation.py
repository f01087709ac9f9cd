"""Escalations: the reports moderators sent to liaisons (with the reason they gave), and
escalating reports on the spot when a senior or liaison puts them straight into a case.

A moderator escalates through the decision service (action "escalate", one report or a cluster,
with the undo window); when that decision becomes final, moderation/review/finalize.py places
the preservation hold. Opening a case is itself a deliberate, audited act of a senior or liaison,
so reports it takes that were not yet escalated are escalated at once, without an undo window,
by the same "escalate" policy action, and audited as the opener's doing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import (
    OPEN_STATUSES,
    Decision,
    DecisionState,
    HoldReason,
    Report,
    ReportStatus,
    ReviewClaim,
    User,
    utcnow,
)
from moderation.audit import events as audit
from moderation.cases.actor import Actor
from moderation.cases.holds import hold_report_media
from moderation.core.errors import ConflictError
from moderation.review.decisions import ACTIONS, MAX_NOTE, MAX_REASON

ESCALATE = "escalate"
# Reports that may be escalated into a case: waiting ones, and decided ones (a removed picture
# may matter to police later). Reports still in triage have no hashes yet.
ESCALATABLE = (*OPEN_STATUSES, ReportStatus.DECIDED)


@dataclass(frozen=True)
class Escalation:
    """Who escalated a report, when, and why (the reason is kept and shown on the case)."""

    report_id: int
    decision_id: int
    user_id: int | None
    user_email: str | None
    at: datetime
    reason: str | None
    note: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "decision_id": self.decision_id,
            "by": self.user_email,
            "by_user_id": self.user_id,
            "at": self.at.isoformat(),
            "reason": self.reason,
            "note": self.note,
        }


def escalations_of(session: Session, report_ids: list[int]) -> dict[int, Escalation]:
    """The latest final escalation of each report that has one."""
    if not report_ids:
        return {}
    rows = session.execute(
        select(Decision, User.email)
        .outerjoin(User, User.id == Decision.user_id)
        .where(
            Decision.report_id.in_(report_ids),
            Decision.action == ESCALATE,
            Decision.state == DecisionState.FINAL.value,
        )
        .order_by(Decision.id)
    ).all()
    found: dict[int, Escalation] = {}
    for decision, email in rows:
        found[decision.report_id] = Escalation(
            report_id=decision.report_id,
            decision_id=decision.id,
            user_id=decision.user_id,
            user_email=email,
            at=decision.finalized_at or decision.created_at,
            reason=decision.reason,
            note=decision.note,
        )
    return found


def escalate_now(
    session: Session, report: Report, actor: Actor, reason: str | None, note: str | None = None
) -> Decision:
    """Escalate `report` at once (a final "escalate" decision by `actor`), release any claim on
    it and hold its media; no commit. Raises ConflictError when the report is still in triage
    or already escalated, or has a decision waiting in its undo window (finalise those first:
    moderation/review/finalize.finalize_due)."""
    if report.status == ReportStatus.ESCALATED:
        raise ConflictError(f"report #{report.id} is already escalated", code="already_escalated")
    if report.status not in ESCALATABLE:
        raise ConflictError(
            f"report #{report.id} is still being triaged; escalate it once it is queued",
            code="not_triaged",
        )
    pending = session.execute(
        select(Decision.id).where(
            Decision.report_id == report.id, Decision.state == DecisionState.PENDING.value
        )
    ).first()
    if pending is not None:
        raise ConflictError(
            f"a decision on report #{report.id} is waiting to become final", code="pending"
        )
    now = utcnow()
    decision = Decision(
        report_id=report.id,
        user_id=actor.user_id,
        action=ESCALATE,
        reason=(reason or "")[:MAX_REASON] or None,
        note=(note or "")[:MAX_NOTE] or None,
        state=DecisionState.FINAL,
        batch_id=str(uuid.uuid4()),
        created_at=now,
        final_after=now,
        finalized_at=now,
    )
    session.add(decision)
    previous = str(report.status)
    report.status = ACTIONS[ESCALATE].outcome
    session.execute(delete(ReviewClaim).where(ReviewClaim.report_id == report.id))
    session.flush()
    audit.record(
        session,
        "decision.escalate",
        **actor.audit(),
        object_type="report",
        object_id=report.id,
        details={"decision_id": decision.id, "previous_status": previous},
    )
    hold_report_media(
        session, [report.id], reason=HoldReason.ESCALATION, case_id=None, actor=actor, now=now
    )
    return decision


def escalated_reports(
    session: Session, visible: Any, *, without_case: bool = False, limit: int = 500
) -> list[tuple[Report, Escalation | None, list[int]]]:
    """Escalated reports the viewer may know (`visible`: a where-clause over Report, e.g.
    moderation.accounts.permissions.visible_reports_clause), newest first, each with its
    escalation (who, when, why) and the ids of the cases it is in; `without_case`: only those
    no case holds yet (what still waits for a liaison)."""
    from models import CaseReport  # local: keeps the import list above about escalation

    in_case = select(CaseReport.report_id).where(CaseReport.report_id == Report.id).exists()
    query = select(Report).where(Report.status == ReportStatus.ESCALATED.value, visible)
    if without_case:
        query = query.where(~in_case)
    reports = list(session.execute(query.order_by(Report.id.desc()).limit(limit)).scalars())
    ids = [report.id for report in reports]
    escalations = escalations_of(session, ids)
    cases: dict[int, list[int]] = {}
    if ids:
        for report_id, case_id in session.execute(
            select(CaseReport.report_id, CaseReport.case_id).where(CaseReport.report_id.in_(ids))
        ):
            cases.setdefault(report_id, []).append(case_id)
    return [(r, escalations.get(r.id), sorted(cases.get(r.id, []))) for r in reports]
