"""Police requests on the clock: a request received from law enforcement (agency, officer,
their reference, legal basis, received, due, which case) is logged, tracked until answered, and
timed. `figures` gives what the dashboard shows: open requests, overdue ones, and the median
time to answer police over the last 30 days, the number this product exists to shrink.

Officers' names and agencies' references are personal or operational data: they stay on the
row and are never put in audit details or logs (the events carry ids and times only).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from models import PoliceRequest, PoliceRequestStatus, utcnow
from moderation.audit import events as audit
from moderation.cases.access import require_case, require_case_role
from moderation.cases.actor import Actor
from moderation.core.errors import ConflictError, NotFoundError, ValidationError

MAX_FIELD = 255
MAX_NOTE = 10_000
FIGURES_DAYS = 30


def _text(value: str | None, what: str, required: bool = False) -> str | None:
    value = (value or "").strip() or None
    if required and value is None:
        raise ValidationError(f"the {what} is required", code="invalid_police_request")
    if value is not None and len(value) > MAX_FIELD:
        raise ValidationError(f"the {what} is too long", code="invalid_police_request")
    return value


def _aware(value: datetime | None, what: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationError(
            f"give {what} with a time zone (UTC: Z)", code="invalid_police_request"
        )
    return value.astimezone(UTC) if value is not None else None


def log_request(
    session: Session,
    *,
    agency: str,
    received_at: datetime,
    actor: Actor,
    due_at: datetime | None = None,
    officer: str | None = None,
    their_reference: str | None = None,
    legal_basis: str | None = None,
    case_id: int | None = None,
    note: str | None = None,
) -> PoliceRequest:
    """Log a request; commits. Raises ValidationError (missing agency, naive or impossible
    times, over-long text), NotFoundError (a case the actor may not know), ForbiddenError."""
    require_case_role(actor)
    received_at = _aware(received_at, "the time received")  # type: ignore[assignment]
    due_at = _aware(due_at, "the due time")
    if received_at > utcnow() + timedelta(minutes=5):
        raise ValidationError(
            "a request cannot be received in the future", code="invalid_police_request"
        )
    if due_at is not None and due_at < received_at:
        raise ValidationError(
            "the due time is before the time received", code="invalid_police_request"
        )
    if note is not None and len(note) > MAX_NOTE:
        raise ValidationError("the note is too long", code="invalid_police_request")
    if case_id is not None:
        require_case(session, case_id, actor)
    request = PoliceRequest(
        case_id=case_id,
        agency=_text(agency, "agency", required=True),
        officer=_text(officer, "officer"),
        their_reference=_text(their_reference, "reference"),
        legal_basis=_text(legal_basis, "legal basis"),
        received_at=received_at,
        due_at=due_at,
        status=PoliceRequestStatus.OPEN,
        logged_by_id=actor.user_id,
        note=(note or "").strip() or None,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        "police_request.log",
        **actor.audit(),
        object_type="police_request",
        object_id=request.id,
        details={
            "case_id": case_id,
            "received_at": received_at.isoformat(),
            "due_at": due_at.isoformat() if due_at else None,
        },
    )
    session.commit()
    return request


def _open_request(session: Session, request_id: int, actor: Actor) -> PoliceRequest:
    require_case_role(actor)
    request = session.get(PoliceRequest, request_id)
    if request is None:
        raise NotFoundError("no such police request")
    if request.case_id is not None:
        try:
            require_case(session, request.case_id, actor)
        except NotFoundError:
            raise NotFoundError("no such police request") from None
    if request.status != PoliceRequestStatus.OPEN:
        raise ConflictError("this request is no longer open", code="police_request_closed")
    return request


def answer(
    session: Session,
    request_id: int,
    *,
    actor: Actor,
    answered_at: datetime | None = None,
    note: str | None = None,
) -> PoliceRequest:
    """Record that the request was answered (at `answered_at`, default now); commits."""
    request = _open_request(session, request_id, actor)
    answered_at = _aware(answered_at, "the time answered") or utcnow()
    if answered_at < request.received_at or answered_at > utcnow() + timedelta(minutes=5):
        raise ValidationError(
            "the answer time must be between receipt and now", code="invalid_police_request"
        )
    request.status = PoliceRequestStatus.ANSWERED
    request.answered_at, request.answered_by_id = answered_at, actor.user_id
    if note:
        request.note = "\n".join(filter(None, [request.note, note.strip()]))[:MAX_NOTE]
    audit.record(
        session,
        "police_request.answer",
        **actor.audit(),
        object_type="police_request",
        object_id=request.id,
        details={
            "answered_at": answered_at.isoformat(),
            "seconds_to_answer": int((answered_at - request.received_at).total_seconds()),
        },
    )
    session.commit()
    return request


def close(session: Session, request_id: int, reason: str, *, actor: Actor) -> PoliceRequest:
    """Close without an answer (withdrawn, or refused for want of a legal basis), with a reason
    kept on the row; commits."""
    request = _open_request(session, request_id, actor)
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_NOTE:
        raise ValidationError("closing a request needs a reason", code="invalid_police_request")
    request.status = PoliceRequestStatus.CLOSED
    request.note = "\n".join(filter(None, [request.note, reason]))[:MAX_NOTE]
    audit.record(
        session,
        "police_request.close",
        **actor.audit(),
        object_type="police_request",
        object_id=request.id,
        details={},
    )
    session.commit()
    return request


def list_requests(
    session: Session, *, open_only: bool = False, limit: int = 500
) -> list[PoliceRequest]:
    """Open requests first, soonest due first (those without a due time after them), then the
    answered and closed ones, newest first."""
    is_open = PoliceRequest.status == PoliceRequestStatus.OPEN.value
    query = select(PoliceRequest)
    if open_only:
        query = query.where(is_open)
    return list(
        session.execute(
            query.order_by(
                case((is_open, 0), else_=1), PoliceRequest.due_at.is_(None),
                PoliceRequest.due_at, PoliceRequest.received_at.desc(), PoliceRequest.id,
            ).limit(limit)
        ).scalars()
    )  # fmt: skip


def request_dict(request: PoliceRequest, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    overdue = (
        request.status == PoliceRequestStatus.OPEN
        and request.due_at is not None
        and request.due_at < now
    )
    answered = request.answered_at
    return {
        "id": request.id,
        "case_id": request.case_id,
        "agency": request.agency,
        "officer": request.officer,
        "their_reference": request.their_reference,
        "legal_basis": request.legal_basis,
        "received_at": request.received_at.isoformat(),
        "due_at": request.due_at.isoformat() if request.due_at else None,
        "status": str(request.status),
        "overdue": overdue,
        "answered_at": answered.isoformat() if answered else None,
        "hours_to_answer": (
            round((answered - request.received_at).total_seconds() / 3600, 2) if answered else None
        ),
        "note": request.note,
    }


@dataclass(frozen=True)
class PoliceFigures:
    open: int
    overdue: int
    answered: int  # in the window
    median_hours_to_answer: float | None  # over requests answered in the window
    window_days: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "open": self.open,
            "overdue": self.overdue,
            "answered": self.answered,
            "median_hours_to_answer": self.median_hours_to_answer,
            "window_days": self.window_days,
        }


def figures(
    session: Session, now: datetime | None = None, days: int = FIGURES_DAYS
) -> PoliceFigures:
    """Open and overdue requests now, and the median time to answer over requests answered in
    the last `days` days (the dashboard's figures)."""
    now = now or utcnow()
    is_open = PoliceRequest.status == PoliceRequestStatus.OPEN.value
    open_count = session.execute(select(func.count()).where(is_open)).scalar_one()
    overdue = session.execute(
        select(func.count()).where(is_open, PoliceRequest.due_at < now)
    ).scalar_one()
    answered = session.execute(
        select(PoliceRequest.received_at, PoliceRequest.answered_at).where(
            PoliceRequest.status == PoliceRequestStatus.ANSWERED.value,
            PoliceRequest.answered_at >= now - timedelta(days=days),
            PoliceRequest.answered_at <= now,
        )
    ).all()
    hours = [(done - received).total_seconds() / 3600 for received, done in answered]
    median = round(statistics.median(hours), 2) if hours else None
    return PoliceFigures(open_count, overdue, len(hours), median, days)
