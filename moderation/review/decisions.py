"""The decision service: record a moderator's decision (one report or a whole cluster) and undo
it within a short window; moderation/review/finalize.py makes it final afterwards and runs its
side effects only then.

Design for several web processes and workers: a decision is written `pending` with
`final_after = now + UNDO_SECONDS`. Undo and finalisation are each one guarded statement over the
batch's rows (DELETE ... WHERE state = 'pending' / UPDATE ... SET state = 'final' WHERE state =
'pending'), taken after locking the batch's rows in id order, so exactly one of them wins and no
side effect ever runs for an undone decision. Finalisation happens on every read that needs the
truth (queue, item page, the platform status API: `finalize_due`) and in a periodic job, so a
decision becomes final even if nobody looks; whichever process gets there first does the work.

"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, false, or_, select
from sqlalchemy.orm import Session

from models import (
    OPEN_STATUSES,
    Decision,
    DecisionState,
    Report,
    ReportStatus,
    Signal,
    SignalKind,
    utcnow,
)
from moderation.audit import events as audit
from moderation.core.errors import ConflictError, NotFoundError, ValidationError
from moderation.review.claims import extend_claim, require_claim


@dataclass(frozen=True)
class PolicyAction:
    """One choice of the policy taxonomy: its code, the key that picks it, and where the report
    goes once the decision is final."""

    code: str
    key: str
    outcome: ReportStatus
    removes: bool = False


TAXONOMY: tuple[PolicyAction, ...] = (
    PolicyAction("remove.ncii", "1", ReportStatus.DECIDED, removes=True),
    PolicyAction("remove.synthetic_sexual", "2", ReportStatus.DECIDED, removes=True),
    PolicyAction("remove.doxxing", "3", ReportStatus.DECIDED, removes=True),
    PolicyAction("remove.harassment", "4", ReportStatus.DECIDED, removes=True),
    PolicyAction("remove.incitement", "5", ReportStatus.DECIDED, removes=True),
    PolicyAction("no_violation", "0", ReportStatus.DECIDED),
    # Needs more context: the report goes back to the queue for someone who can find it.
    PolicyAction("needs_context", "c", ReportStatus.QUEUED),
    PolicyAction("escalate", "e", ReportStatus.ESCALATED),
)
ACTIONS = {action.code: action for action in TAXONOMY}
MAX_REASON = 255
MAX_NOTE = 4000


@dataclass(frozen=True)
class DecisionInput:
    action: str
    reason: str = ""
    note: str = ""
    without_viewing: bool = False

    def validated(self) -> DecisionInput:
        """Raises ValidationError for an unknown action or over-long text."""
        if self.action not in ACTIONS:
            raise ValidationError("choose an action from the policy list", code="invalid_decision")
        if len(self.reason) > MAX_REASON or len(self.note) > MAX_NOTE:
            raise ValidationError("the reason or note is too long", code="invalid_decision")
        return self


@dataclass(frozen=True)
class Recorded:
    batch_id: str
    report_ids: list[int]
    skipped_report_ids: list[int]
    final_after: datetime


def has_bank_match(session: Session, report_id: int) -> bool:
    return (
        session.execute(
            select(Signal.id)
            .where(Signal.report_id == report_id, Signal.kind == SignalKind.BANK)
            .limit(1)
        ).first()
        is not None
    )


def _record(
    session: Session,
    report: Report,
    user_id: int,
    decision: DecisionInput,
    batch_id: str,
    final_after: datetime,
    claim_minutes: float,
) -> None:
    session.add(
        Decision(
            report_id=report.id,
            user_id=user_id,
            action=decision.action,
            reason=decision.reason or None,
            note=decision.note or None,
            state=DecisionState.PENDING,
            batch_id=batch_id,
            final_after=final_after,
            without_viewing=decision.without_viewing,
        )
    )
    # Hold the lease through the undo window so nobody else picks the report up meanwhile.
    extend_claim(session, report.id, user_id, final_after + timedelta(minutes=claim_minutes))


def _pending_report_ids(session: Session, report_ids: Iterable[int]) -> set[int]:
    ids = list(report_ids)
    if not ids:
        return set()
    return set(
        session.execute(
            select(Decision.report_id).where(
                Decision.report_id.in_(ids), Decision.state == DecisionState.PENDING.value
            )
        ).scalars()
    )


def decide(
    session: Session,
    report: Report,
    user_id: int,
    decision: DecisionInput,
    undo_seconds: float,
    claim_minutes: float,
) -> Recorded:
    """Record a pending decision on one report the caller may decide; commits.

    Raises ValidationError (bad input, or deciding without viewing without a bank match),
    ConflictError (held by someone else, already decided, or a decision already pending).
    """
    decision = decision.validated()
    if report.status not in OPEN_STATUSES:
        raise ConflictError("this report has already been decided", code="already_decided")
    if decision.without_viewing and not has_bank_match(session, report.id):
        raise ValidationError(
            "deciding without viewing needs a bank match", code="invalid_decision"
        )
    require_claim(session, report.id, user_id, claim_minutes)
    if _pending_report_ids(session, [report.id]):
        raise ConflictError("a decision on this report is waiting to become final", code="pending")
    batch_id = str(uuid.uuid4())
    final_after = utcnow() + timedelta(seconds=undo_seconds)
    _record(session, report, user_id, decision, batch_id, final_after, claim_minutes)
    audit.record(
        session,
        "decision.record",
        actor_user_id=user_id,
        object_type="report",
        object_id=report.id,
        details={
            "action": decision.action,
            "batch_id": batch_id,
            "without_viewing": decision.without_viewing,
        },
    )
    session.commit()
    return Recorded(batch_id, [report.id], [], final_after)


def decide_cluster(
    session: Session,
    cluster_id: int,
    user_id: int,
    decision: DecisionInput,
    undo_seconds: float,
    claim_minutes: float,
    may_decide: Callable[[Report], bool],
) -> Recorded:
    """Record one pending decision on every open report of a cluster, as one batch; commits.

    Reports held by another moderator, already pending or not `may_decide` are skipped and
    listed. Raises NotFoundError for an empty cluster, ConflictError if none could be taken.
    """
    decision = decision.validated()
    reports = list(
        session.execute(
            select(Report)
            .where(Report.cluster_id == cluster_id, Report.status.in_(OPEN_STATUSES))
            .order_by(Report.id)
        ).scalars()
    )
    reports = [report for report in reports if may_decide(report)]
    if not reports:
        raise NotFoundError("no open reports in this cluster")
    unmatched = [r.id for r in reports if not has_bank_match(session, r.id)]
    if decision.without_viewing and unmatched:
        listed = ", ".join(f"#{report_id}" for report_id in unmatched)
        raise ValidationError(
            f"deciding without viewing needs a bank match, and {listed} of this cluster have "
            "none: untick 'without viewing' or decide those after looking",
            code="invalid_decision",
        )
    pending = _pending_report_ids(session, [report.id for report in reports])
    taken: list[Report] = []
    skipped: list[int] = []
    for report in reports:
        if report.id in pending:
            skipped.append(report.id)
            continue
        try:
            require_claim(session, report.id, user_id, claim_minutes)
        except ConflictError:
            skipped.append(report.id)
            continue
        taken.append(report)
    if not taken:
        raise ConflictError("other moderators hold every report of this cluster", code="claimed")
    batch_id = str(uuid.uuid4())
    final_after = utcnow() + timedelta(seconds=undo_seconds)
    for report in taken:
        _record(session, report, user_id, decision, batch_id, final_after, claim_minutes)
    audit.record(
        session,
        "decision.record_cluster",
        actor_user_id=user_id,
        object_type="cluster",
        object_id=cluster_id,
        details={
            "action": decision.action,
            "batch_id": batch_id,
            "report_ids": [report.id for report in taken],
            "skipped_report_ids": skipped,
            "without_viewing": decision.without_viewing,
        },
    )
    session.commit()
    return Recorded(batch_id, [report.id for report in taken], skipped, final_after)


def lock_batch(session: Session, batch_id: str) -> list[int]:
    """Lock the batch's pending rows in id order (PostgreSQL; SQLite has one writer anyway)."""
    return list(
        session.execute(
            select(Decision.id)
            .where(Decision.batch_id == batch_id, Decision.state == DecisionState.PENDING.value)
            .order_by(Decision.id)
            .with_for_update()
        ).scalars()
    )


def undo(session: Session, batch_id: str, user_id: int, *, system_too: bool = False) -> list[int]:
    """Delete our pending decisions of `batch_id` while the window is open (`system_too`: also
    a batch the system decided, for seniors); commits and returns the report ids given back.
    Raises ConflictError once the decisions are final (or gone)."""
    now = utcnow()
    ids = lock_batch(session, batch_id)
    rows = (
        list(
            session.execute(
                select(Decision.id, Decision.report_id, Decision.final_after).where(
                    Decision.id.in_(ids)
                )
            )
        )
        if ids
        else []
    )
    if not rows or any(row.final_after <= now for row in rows):
        session.rollback()
        raise ConflictError("too late to undo: the decision is final", code="final")
    removed = session.execute(
        delete(Decision)
        .where(
            Decision.batch_id == batch_id,
            or_(Decision.user_id == user_id, Decision.user_id.is_(None) if system_too else false()),
            Decision.state == DecisionState.PENDING.value,
        )
        .execution_options(synchronize_session=False)
    )
    if removed.rowcount != len(rows):
        session.rollback()
        raise ConflictError("this decision is not yours to undo", code="forbidden_undo")
    report_ids = sorted({row.report_id for row in rows})
    audit.record(
        session,
        "decision.undo",
        actor_user_id=user_id,
        object_type="decision_batch",
        object_id=batch_id,
        details={"report_ids": report_ids},
    )
    session.commit()
    return report_ids


def latest_undoable(session: Session, user_id: int) -> tuple[str, datetime, list[int]] | None:
    """The user's most recent batch still inside its undo window: (batch id, final_after,
    report ids), for the undo bar."""
    now = utcnow()
    row = session.execute(
        select(Decision.batch_id, Decision.final_after)
        .where(
            Decision.user_id == user_id,
            Decision.state == DecisionState.PENDING.value,
            Decision.final_after > now,
        )
        .order_by(Decision.id.desc())
        .limit(1)
    ).first()
    if row is None or row.batch_id is None:
        return None
    report_ids = list(
        session.execute(
            select(Decision.report_id).where(Decision.batch_id == row.batch_id)
        ).scalars()
    )
    return row.batch_id, row.final_after, sorted(report_ids)
