"""Making decisions final once their undo window has passed, and running their side effects
then and only then (a reversed or undone decision must never have called a platform back).

Design for several web processes and workers: a decision is written `pending` with
`final_after = now + UNDO_SECONDS`. Undo (moderation/review/decisions.py) and finalisation are
each one guarded statement over the batch's rows (DELETE ... WHERE state = 'pending' / UPDATE ...
SET state = 'final' WHERE state = 'pending'), taken after locking the batch's rows in id order,
so exactly one of them wins and no side effect ever runs for an undone decision. Finalisation
happens on every read that needs the truth (queue, item page, the platform status API) and in a
periodic job, so a decision becomes final even if nobody looks; whichever process gets there
first does the work. Side effects are called here, explicitly, inside the finalising
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from models import (
    OPEN_STATUSES,
    Decision,
    DecisionState,
    HoldReason,
    Report,
    ReportStatus,
    ReviewClaim,
    utcnow,
)
from moderation.audit import events as audit
from moderation.cases.actor import Actor
from moderation.cases.holds import hold_report_media
from moderation.outcomes import effects
from moderation.review.decisions import ACTIONS, lock_batch


def _finalize_batch(session: Session, batch_id: str, now: datetime) -> list[int]:
    ids = lock_batch(session, batch_id)
    if not ids:
        session.rollback()
        return []
    flipped = session.execute(
        update(Decision)
        .where(
            Decision.id.in_(ids),
            Decision.state == DecisionState.PENDING.value,
            Decision.final_after <= now,
        )
        .values(state=DecisionState.FINAL.value, finalized_at=now)
        .execution_options(synchronize_session=False)
    )
    if flipped.rowcount != len(ids):
        # The window is still open for part of it (or someone undid it meanwhile): not yet.
        session.rollback()
        return []
    decisions = list(session.execute(select(Decision).where(Decision.id.in_(ids))).scalars())
    for decision in decisions:
        report = session.get(Report, decision.report_id)
        if report is None:
            continue
        outcome = ACTIONS[decision.action].outcome
        if report.status in OPEN_STATUSES:
            report.status = outcome
            if outcome == ReportStatus.ESCALATED:
                # Evidence is preserved from the moment the escalation is final (issue 11).
                hold_report_media(
                    session,
                    [report.id],
                    reason=HoldReason.ESCALATION,
                    case_id=None,
                    actor=Actor.system(),
                    now=now,
                )
        session.execute(delete(ReviewClaim).where(ReviewClaim.report_id == report.id))
        effects.on_final(session, decision, report)  # banking and the platform's callback
        audit.record(
            session,
            "decision.final",
            actor_kind="system",
            object_type="report",
            object_id=report.id,
            details={
                "decision_id": decision.id,
                "action": decision.action,
                "status": outcome.value,
            },
        )
    session.commit()
    return ids


def finalize_due(
    session: Session, report_ids: Iterable[int] | None = None, limit: int = 200
) -> list[int]:
    """Finalise every pending batch whose window has passed (only those touching `report_ids`
    when given); commits per batch and returns the finalised decision ids. Safe to call from
    any number of processes at once. Call it first, as its own unit of work: it refuses a
    session with changes not yet committed (RuntimeError) rather than commit them."""
    now = utcnow()
    query = select(Decision.batch_id).where(
        Decision.state == DecisionState.PENDING.value, Decision.final_after <= now
    )
    ids = list(report_ids) if report_ids is not None else None
    if ids is not None:
        if not ids:
            return []
        query = query.where(Decision.report_id.in_(ids))
    if session.new or session.dirty or session.deleted:
        # Each batch commits on its own: work the caller had not committed would go with it.
        raise RuntimeError("finalize_due runs as its own unit of work: commit first")
    batches = list(dict.fromkeys(session.execute(query.limit(limit)).scalars()))
    session.commit()  # end the read so each batch gets its own short transaction
    finalized: list[int] = []
    for batch_id in batches:
        if batch_id is not None:
            finalized.extend(_finalize_batch(session, batch_id, now))
    return finalized
