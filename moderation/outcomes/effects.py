"""A decision's side effects, in one place: what runs when a decision becomes final, and what
runs when a final decision is reversed. moderation/review/finalize.py calls `on_final` inside the
finalising transaction; `reverse` is the service a senior (or an appeal) calls.

On final: a removal banks the media's hashes (banking.py) and every outcome but "needs context"
is owed to the platform as a callback (callbacks.py). On reversal: what the decision banked is
withdrawn at once and the platform is told.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CallbackEvent, Decision, DecisionState, Report, utcnow
from moderation.audit import events as audit
from moderation.core.errors import ConflictError, NotFoundError, ValidationError
from moderation.outcomes import banking, callbacks

# Decisions that are an outcome a platform acts on ("needs context" only sends it back).
ANNOUNCED = ("remove.", "no_violation", "escalate")


def on_final(session: Session, decision: Decision, report: Report) -> None:
    """Run inside the finalising transaction (no commit)."""
    if decision.action.startswith("remove."):
        banking.bank_decision(session, decision, report)
    if decision.action.startswith(ANNOUNCED):
        callbacks.announce(session, report, decision, CallbackEvent.DECISION_FINAL)


def standing_decision(session: Session, report_id: int) -> Decision | None:
    """The report's latest final decision that has not been reversed."""
    return session.execute(
        select(Decision)
        .where(
            Decision.report_id == report_id,
            Decision.state == DecisionState.FINAL,
            Decision.reversed_at.is_(None),
        )
        .order_by(Decision.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def reverse(
    session: Session, report_id: int, user_id: int, reason: str, *, commit: bool = True
) -> Decision:
    """Reverse the report's standing final decision: withdraw what it banked, tell the platform,
    audit `decision.reverse`. Commits unless `commit` is False (an appeal's own transaction).
    Raises NotFoundError (no such report), ConflictError (nothing final to reverse) or
    ValidationError (no reason)."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 255:
        raise ValidationError("give a reason for the reversal (at most 255 characters)")
    report = session.get(Report, report_id)
    if report is None:
        raise NotFoundError("no such report")
    decision = standing_decision(session, report_id)
    if decision is None:
        raise ConflictError("this report has no final decision to reverse")
    now = utcnow()
    decision.reversed_at = now
    decision.reversed_by_user_id = user_id
    decision.reversal_reason = reason
    withdrawn = banking.withdraw_decision(session, decision, user_id)
    callbacks.announce(session, report, decision, CallbackEvent.DECISION_REVERSED, now=now)
    audit.record(
        session,
        "decision.reverse",
        actor_user_id=user_id,
        object_type="report",
        object_id=report.id,
        details={
            "decision_id": decision.id,
            "action": decision.action,
            "withdrawn_entries": [entry.id for entry in withdrawn],
        },
    )
    if commit:
        session.commit()
    return decision
