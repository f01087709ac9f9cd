"""What a person who reported sees on the portal: the true stage of their report and, once
decided, its outcome in plain words; never anything about the accused or the content.

Stages, each true when shown: `received` (not yet triaged), `waiting` (in the queue, nobody has
opened it), `in_review` (a person opened it or holds it), then the outcome: `removed`,
`no_violation`, `escalated` (passed to the police liaison), or `reviewed_again` (a removal
reversed on review or appeal). A decision in its undo window is not an outcome yet.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, Decision, DecisionState, Report, ReportStatus, utcnow
from moderation.audit import events as audit
from moderation.core.errors import ValidationError

MAX_ADDITION = 2000


def reporter_stage(session: Session, report: Report) -> str:
    if report.status in (ReportStatus.RECEIVED, ReportStatus.TRIAGING):
        return "received"
    decision = session.execute(
        select(Decision)
        .where(Decision.report_id == report.id, Decision.state == DecisionState.FINAL)
        .order_by(Decision.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if decision is not None and decision.action != "needs_context":
        if decision.reversed_at is not None:
            return "reviewed_again"
        if decision.action.startswith("remove."):
            return "removed"
        return "escalated" if decision.action == "escalate" else "no_violation"
    if report.status == ReportStatus.IN_REVIEW:
        return "in_review"
    opened = session.execute(
        select(AuditEvent.id)
        .where(
            AuditEvent.object_type == "report",
            AuditEvent.object_id == str(report.id),
            AuditEvent.action == "report.view",
            AuditEvent.actor_user_id.is_not(None),
        )
        .limit(1)
    ).first()
    return "in_review" if opened else "waiting"


def add_information(session: Session, report_id: int, text: str) -> None:
    """Add what the reporter tells us later to their report (kept with the report's comment,
    dated); commits. Audited without the text. Raises ValidationError."""
    text = (text or "").replace("\x00", "").strip()
    if not text or len(text) > MAX_ADDITION:
        raise ValidationError(
            f"write 1 to {MAX_ADDITION} characters", code="invalid_addition", status=422
        )
    report = session.get(Report, report_id)
    if report is None:
        raise ValidationError("no such report", code="invalid_addition", status=422)
    stamp = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    report.comment = "\n\n".join(part for part in (report.comment, f"[{stamp}] {text}") if part)
    audit.record(
        session,
        "portal.add_information",
        actor_kind="reporter",
        object_type="report",
        object_id=report.id,
        details={"characters": len(text)},
    )
    session.commit()
