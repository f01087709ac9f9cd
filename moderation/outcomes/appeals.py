"""Appeals: a platform forwards an appeal from the person whose content was removed; a senior who
did not make the first decision upholds or reverses it; the outcome goes back by callback, and a
reversal withdraws what the decision banked (effects.reverse).

The API route is signed like intake (Standard Webhooks with the platform's inbound secret) and
idempotent on `webhook-id`: a replay gets the first answer, and one decision has at most one
open appeal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import (
    Appeal,
    AppealState,
    CallbackEvent,
    Decision,
    Report,
    Role,
    User,
    WebhookDelivery,
    utcnow,
)
from moderation.audit import events as audit
from moderation.core.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from moderation.intake import service as intake
from moderation.outcomes import callbacks, effects

MAX_STATEMENT = 4000
MAX_NOTE = 2000
# Who may decide an appeal (and is picked to): never the person who made the first decision.
APPEAL_ROLES = (Role.SENIOR, Role.ADMIN)


@dataclass(frozen=True)
class AppealAnswer:
    status_code: int
    body: dict[str, Any]


def _parse(body: bytes) -> tuple[str | None, str | None]:
    document = intake.decode_json(body)
    if not isinstance(document, dict):
        raise ValidationError("the appeal must be a JSON object", code="invalid_appeal")
    external_id, statement = document.get("external_id"), document.get("statement")
    for name, value, limit in (
        ("external_id", external_id, 255),
        ("statement", statement, MAX_STATEMENT),
    ):
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise ValidationError(
                f"{name} must be a string of at most {limit} characters", code="invalid_appeal"
            )
    return external_id, statement


def pick_reviewer(session: Session, first_decider_id: int | None) -> int | None:
    """The active senior (else admin) with the fewest open appeals who did not make the first
    decision; None if there is nobody else (the appeal waits for anyone eligible)."""
    open_counts = (
        select(Appeal.assigned_user_id, func.count().label("n"))
        .where(Appeal.state == AppealState.OPEN)
        .group_by(Appeal.assigned_user_id)
        .subquery()
    )
    query = (
        select(User.id)
        .outerjoin(open_counts, open_counts.c.assigned_user_id == User.id)
        .where(User.active.is_(True), User.role.in_([str(role) for role in APPEAL_ROLES]))
        .order_by(
            (User.role != Role.SENIOR.value),  # seniors first, admins as a fallback
            func.coalesce(open_counts.c.n, 0),
            User.id,
        )
    )
    if first_decider_id is not None:
        query = query.where(User.id != first_decider_id)
    return session.execute(query.limit(1)).scalar_one_or_none()


def receive_appeal(
    session: Session,
    slug: str,
    report_id: int,
    headers: dict[str, str | None],
    body: bytes,
    limits: intake.IntakeLimits,
) -> AppealAnswer:
    """The appeal route: verify, dedupe, route to a senior, commit. Raises AuthenticationError
    (bad signature or unknown platform, alike), NotFoundError (not this platform's report),
    ConflictError (nothing removed to appeal, or an appeal already open), ValidationError."""
    delivery_id = headers.get("webhook-id") or ""
    try:
        platform, previous = intake.platform_and_previous_answer(session, slug, delivery_id)
    except NotFoundError:
        intake.verify_delivery(None, headers, body, limits.tolerance_seconds)
        raise
    intake.verify_delivery(platform, headers, body, limits.tolerance_seconds)
    if previous:
        return AppealAnswer(previous.status_code, previous.body)
    external_id, statement = _parse(body)
    report = session.get(Report, report_id)
    if report is None or report.platform_id != platform.id:
        raise NotFoundError("no such report")
    decision = effects.standing_decision(session, report.id)
    if decision is None or not decision.action.startswith("remove."):
        raise ConflictError("only a standing removal can be appealed", code="nothing_to_appeal")
    already = session.execute(
        select(Appeal.id).where(Appeal.decision_id == decision.id, Appeal.state == AppealState.OPEN)
    ).first()
    if already:
        raise ConflictError("an appeal of this decision is already open", code="appeal_open")
    appeal = Appeal(
        report_id=report.id,
        decision_id=decision.id,
        platform_id=platform.id,
        external_id=external_id,
        statement=statement,
        assigned_user_id=pick_reviewer(session, decision.user_id),
    )
    session.add(appeal)
    session.flush()
    answer = {"appeal_id": appeal.id, "report_id": report.id, "status": str(AppealState.OPEN)}
    session.add(
        WebhookDelivery(
            platform_id=platform.id,
            delivery_id=delivery_id,
            report_id=report.id,
            response_status=202,
            response_body=answer,
        )
    )
    audit.record(
        session,
        "appeal.receive",
        actor_kind="platform",
        object_type="report",
        object_id=report.id,
        details={"appeal_id": appeal.id, "decision_id": decision.id},
    )
    try:
        session.commit()
    except IntegrityError:
        # A concurrent replay of the same delivery won: answer what it answered.
        session.rollback()
        replay = intake.previous_answer(session, platform.id, delivery_id)
        if replay is None:
            raise
        return AppealAnswer(replay.status_code, replay.body)
    return AppealAnswer(202, answer)


def open_appeals(session: Session, user_id: int) -> list[tuple[Appeal, Report, Decision]]:
    """Open appeals this user may decide (not their own decisions), theirs first, oldest first."""
    rows = session.execute(
        select(Appeal, Report, Decision)
        .join(Report, Report.id == Appeal.report_id)
        .join(Decision, Decision.id == Appeal.decision_id)
        .where(Appeal.state == AppealState.OPEN, Decision.user_id.is_distinct_from(user_id))
        .order_by((Appeal.assigned_user_id != user_id), Appeal.received_at)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def decide_appeal(
    session: Session, appeal_id: int, user: User, outcome: str, note: str = ""
) -> Appeal:
    """Uphold or reverse; commits. The first decider may never decide their own appeal.
    Raises NotFoundError, ForbiddenError, ConflictError (already decided), ValidationError."""
    if str(user.role) not in APPEAL_ROLES:
        raise ForbiddenError("only seniors and admins decide appeals")
    try:
        state = AppealState(outcome)
    except ValueError:
        raise ValidationError("choose upheld or reversed", code="invalid_appeal") from None
    if state == AppealState.OPEN:
        raise ValidationError("choose upheld or reversed", code="invalid_appeal")
    note = (note or "").strip()
    if len(note) > MAX_NOTE or (state == AppealState.REVERSED and not note):
        raise ValidationError("a reversal needs a reason (at most 2000 characters)")
    appeal = session.get(Appeal, appeal_id)
    if appeal is None:
        raise NotFoundError("no such appeal")
    decision = session.get(Decision, appeal.decision_id)
    if decision is not None and decision.user_id == user.id:
        raise ForbiddenError("someone else must decide the appeal of your own decision")
    if appeal.state != AppealState.OPEN:
        raise ConflictError("this appeal was already decided", code="appeal_decided")
    now = utcnow()
    appeal.state = state
    appeal.decided_at = now
    appeal.decided_by_user_id = user.id
    appeal.decision_note = note or None
    report = session.get(Report, appeal.report_id)
    if state == AppealState.REVERSED:
        effects.reverse(session, appeal.report_id, user.id, note[:255], commit=False)
    if report is not None and decision is not None:
        callbacks.announce(
            session,
            report,
            decision,
            CallbackEvent.APPEAL_DECIDED,
            now=now,
            extra={"appeal_id": appeal.id, "outcome": str(state)},
            key=str(appeal.id),
        )
    audit.record(
        session,
        "appeal.decide",
        actor_user_id=user.id,
        object_type="report",
        object_id=appeal.report_id,
        details={"appeal_id": appeal.id, "outcome": str(state)},
    )
    session.commit()
    return appeal
