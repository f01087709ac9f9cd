"""The case service after a case is open: assign a liaison, move it along open -> referred ->
acknowledged -> closed, write notes, and read cases back with their referral clock. Opening a
case and adding reports to it are moderation/cases/opening.py. Every change is an audit event;
each function that changes something commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Case, CaseNote, CaseStatus, Cluster, Report, utcnow
from moderation.audit import events as audit
from moderation.cases.access import (
    check_assignee,
    find_liaison,
    require_case,
    require_case_role,
    visible_cases_clause,
)
from moderation.cases.actor import Actor
from moderation.cases.settings import CaseSettings
from moderation.core.errors import ConflictError, NotFoundError, ValidationError

MAX_NOTE = 10_000
MAX_REASON = 2000
# Each status and the ones it may move to.
TRANSITIONS: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    CaseStatus.OPEN: (CaseStatus.REFERRED, CaseStatus.CLOSED),
    CaseStatus.REFERRED: (CaseStatus.ACKNOWLEDGED, CaseStatus.CLOSED),
    CaseStatus.ACKNOWLEDGED: (CaseStatus.CLOSED,),
    CaseStatus.CLOSED: (),
}


@dataclass(frozen=True)
class ReferralClock:
    """The SLA of a case: the first referral to police is due `due_at`."""

    due_at: datetime
    state: str  # "running", "met" or "breached"
    seconds_left: int | None  # while running

    def to_dict(self) -> dict[str, object]:
        return {
            "due_at": self.due_at.isoformat(),
            "state": self.state,
            "seconds_left": self.seconds_left,
        }


def referral_clock(case: Case, now: datetime | None = None) -> ReferralClock:
    """The one rule for a case's referral SLA (lists, the case page and the summary use it)."""
    now = now or utcnow()
    if case.referred_at is not None:
        state = "met" if case.referred_at <= case.referral_due_at else "breached"
        return ReferralClock(case.referral_due_at, state, None)
    if case.status == CaseStatus.CLOSED:
        # Closed without a referral (no police interest): the clock stopped, nothing was late.
        closed = case.closed_at or now
        state = "met" if closed <= case.referral_due_at else "breached"
        return ReferralClock(case.referral_due_at, state, None)
    left = int((case.referral_due_at - now).total_seconds())
    return ReferralClock(case.referral_due_at, "running" if left > 0 else "breached", max(left, 0))


def assign(
    session: Session,
    case_id: int,
    liaison_email: str | None,
    *,
    actor: Actor,
    settings: CaseSettings,
) -> Case:
    """Assign the case to a liaison (None: unassign); commits. Raises ValidationError for an
    unknown or unsuitable liaison, NotFoundError, ForbiddenError."""
    require_case_role(actor)
    case = require_case(session, case_id, actor)
    liaison = find_liaison(session, liaison_email)
    check_assignee(session, case, liaison, settings.csam_roles)
    case.assigned_liaison_id = liaison.id if liaison else None
    audit.record(
        session,
        "case.assign",
        **actor.audit(),
        object_type="case",
        object_id=case.id,
        details={"assigned_liaison_id": case.assigned_liaison_id},
    )
    session.commit()
    return case


def advance(
    session: Session, case_id: int, status: str, *, actor: Actor, reason: str | None = None
) -> Case:
    """Move the case to `status` along the workflow, recording who and when; closing needs a
    reason. Commits. Raises ValidationError (unknown status, no reason to close), ConflictError
    (not a next step from here), NotFoundError, ForbiddenError."""
    require_case_role(actor)
    try:
        target = CaseStatus(status)
    except ValueError as exc:
        raise ValidationError("unknown case status", code="invalid_case") from exc
    case = require_case(session, case_id, actor)
    current = CaseStatus(case.status)
    if target not in TRANSITIONS[current]:
        raise ConflictError(
            f"a case that is {current.value} cannot become {target.value}", code="case_status"
        )
    reason = (reason or "").strip() or None
    if target == CaseStatus.CLOSED and not reason:
        raise ValidationError("closing a case needs a reason", code="invalid_case")
    if reason is not None and len(reason) > MAX_REASON:
        raise ValidationError("the reason is too long", code="invalid_case")
    now = utcnow()
    case.status = target
    if target == CaseStatus.REFERRED:
        case.referred_at, case.referred_by_id = now, actor.user_id
    elif target == CaseStatus.ACKNOWLEDGED:
        case.acknowledged_at, case.acknowledged_by_id = now, actor.user_id
    elif target == CaseStatus.CLOSED:
        case.closed_at, case.closed_by_id, case.close_reason = now, actor.user_id, reason
    audit.record(
        session,
        "case.status",
        **actor.audit(),
        object_type="case",
        object_id=case.id,
        details={"from": current.value, "to": target.value},
    )
    session.commit()
    return case


def add_note(session: Session, case_id: int, body: str, *, actor: Actor) -> CaseNote:
    """A note on the case; commits. The text stays on the row (it may name people); the audit
    event records only that a note was written."""
    require_case_role(actor)
    body = (body or "").strip()
    if not body or len(body) > MAX_NOTE:
        raise ValidationError(f"a note is 1 to {MAX_NOTE} characters", code="invalid_note")
    case = require_case(session, case_id, actor)
    note = CaseNote(case_id=case.id, author_id=actor.user_id, body=body)
    session.add(note)
    session.flush()
    audit.record(
        session,
        "case.note",
        **actor.audit(),
        object_type="case",
        object_id=case.id,
        details={"note_id": note.id},
    )
    session.commit()
    return note


def get_case(session: Session, case_id: int, actor: Actor) -> Case:
    """The case, if `actor` may know it; NotFoundError otherwise."""
    return require_case(session, case_id, actor)


def find_case(session: Session, id_or_number: str, actor: Actor) -> Case:
    """A case by id ("12") or number ("C-2026-0042", any case); NotFoundError otherwise."""
    text = id_or_number.strip()
    if text.isdigit():
        return require_case(session, int(text), actor)
    found = session.execute(select(Case.id).where(Case.number == text.upper())).scalar_one_or_none()
    if found is None:
        raise NotFoundError("no such case")
    return require_case(session, found, actor)


def list_cases(
    session: Session, actor: Actor, *, status: str | None = None, limit: int = 200
) -> list[Case]:
    """Cases `actor` may know, newest first (optionally of one status)."""
    query = select(Case).where(visible_cases_clause(actor))
    if status:
        query = query.where(Case.status == status)
    return list(session.execute(query.order_by(Case.id.desc()).limit(limit)).scalars())


def cluster_ids_of(session: Session, report_ids: list[int]) -> list[int]:
    """The clusters the reports belong to (merged clusters resolve to the surviving one)."""
    if not report_ids:
        return []
    ids = set(
        session.execute(
            select(Report.cluster_id).where(
                Report.id.in_(report_ids), Report.cluster_id.is_not(None)
            )
        ).scalars()
    )
    resolved: set[int] = set()
    for cluster_id in ids:
        cluster = session.get(Cluster, cluster_id)
        while cluster is not None and cluster.merged_into_id is not None:
            cluster = session.get(Cluster, cluster.merged_into_id)
        if cluster is not None:
            resolved.add(cluster.id)
    return sorted(resolved)
