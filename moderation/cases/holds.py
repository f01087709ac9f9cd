"""Preservation holds: media of an escalated report or of a case is kept, whatever retention
says, for HOLD_DAYS (one year: 18 U.S.C. 2258A(h) as amended by the REPORT Act asks providers to
preserve reported material that long). A hold is extendable, and released only by a senior or
an admin with a reason; an expired hold protects nothing, so extend holds of live cases.

`hold_report_media` is a helper (no commit) called where an escalation becomes final
(moderation/review/finalize.py) and where reports join a case; extending and releasing are a
person's actions and commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from models import HoldReason, Media, MediaHold, utcnow
from moderation.audit import events as audit
from moderation.cases.access import HOLD_RELEASE_ROLES, require_case, require_case_role
from moderation.cases.actor import Actor
from moderation.core.errors import NotFoundError, ValidationError

HOLD_DAYS = 365
MAX_EXTENSION_DAYS = 5 * 365
MAX_REASON = 2000


def active_hold_clause(now: datetime) -> ColumnElement[bool]:
    """True for `MediaHold` rows that protect their medium at `now`."""
    return and_(MediaHold.released_at.is_(None), MediaHold.expires_at > now)


def hold_report_media(
    session: Session,
    report_ids: Iterable[int],
    *,
    reason: HoldReason,
    case_id: int | None,
    actor: Actor,
    now: datetime | None = None,
) -> list[MediaHold]:
    """Hold every medium of `report_ids` for HOLD_DAYS, for this case (or, without one, for the
    escalation); a medium already actively held for the same case or escalation is skipped, so
    calling twice places nothing twice. One audit event per report; no commit."""
    now = now or utcnow()
    placed: list[MediaHold] = []
    for report_id in sorted(set(report_ids)):
        media_ids = list(
            session.execute(
                select(Media.id).where(Media.report_id == report_id).order_by(Media.id)
            ).scalars()
        )
        if not media_ids:
            continue
        scope = MediaHold.case_id == case_id if case_id is not None else MediaHold.case_id.is_(None)
        already = set(
            session.execute(
                select(MediaHold.media_id).where(
                    MediaHold.media_id.in_(media_ids), scope, active_hold_clause(now)
                )
            ).scalars()
        )
        new = [
            MediaHold(
                media_id=media_id,
                report_id=report_id,
                case_id=case_id,
                reason=reason,
                placed_at=now,
                placed_by_id=actor.user_id,
                expires_at=now + timedelta(days=HOLD_DAYS),
            )
            for media_id in media_ids
            if media_id not in already
        ]
        if not new:
            continue
        session.add_all(new)
        session.flush()
        placed.extend(new)
        audit.record(
            session,
            "hold.place",
            **actor.audit(),
            object_type="report",
            object_id=report_id,
            details={
                "reason": str(reason),
                "case_id": case_id,
                "hold_ids": [hold.id for hold in new],
                "media_ids": [hold.media_id for hold in new],
                "expires_at": new[0].expires_at.isoformat(),
            },
        )
    return placed


@dataclass(frozen=True)
class HoldScope:
    """Whose holds: a case's (`case_id`), or a report's own escalation holds (`report_id`;
    holds a case placed on the same media go with that case)."""

    case_id: int | None = None
    report_id: int | None = None

    def __post_init__(self) -> None:
        if (self.case_id is None) == (self.report_id is None):
            raise ValueError("a hold scope is one case or one report")

    @property
    def object(self) -> tuple[str, int]:
        if self.case_id is not None:
            return "case", self.case_id
        return "report", self.report_id or 0


def _unreleased(session: Session, scope: HoldScope, actor: Actor) -> list[MediaHold]:
    query = select(MediaHold).where(MediaHold.released_at.is_(None))
    if scope.case_id is not None:
        require_case(session, scope.case_id, actor)
        query = query.where(MediaHold.case_id == scope.case_id)
    else:
        query = query.where(MediaHold.report_id == scope.report_id, MediaHold.case_id.is_(None))
    holds = list(session.execute(query.order_by(MediaHold.id)).scalars())
    if not holds:
        raise NotFoundError(f"this {scope.object[0]} has no holds in force")
    return holds


def extend_holds(session: Session, scope: HoldScope, days: int, actor: Actor) -> list[MediaHold]:
    """Keep every unreleased hold of the scope until at least `days` from now (an expired one
    comes back into force); commits. Raises ValidationError for a bad number of days,
    NotFoundError when there are no holds (or the case is hidden), ForbiddenError."""
    require_case_role(actor)
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise ValidationError(f"extend by 1 to {MAX_EXTENSION_DAYS} days", code="invalid_hold")
    holds = _unreleased(session, scope, actor)
    now = utcnow()
    until = now + timedelta(days=days)
    for hold in holds:
        if hold.expires_at < until:
            hold.expires_at = until
            hold.extended_at = now
    object_type, object_id = scope.object
    audit.record(
        session,
        "hold.extend",
        **actor.audit(),
        object_type=object_type,
        object_id=object_id,
        details={"hold_ids": [hold.id for hold in holds], "expires_at": until.isoformat()},
    )
    session.commit()
    return holds


def release_holds(session: Session, scope: HoldScope, reason: str, actor: Actor) -> list[MediaHold]:
    """Release every hold of the scope; only seniors and admins (or the command line), with a
    reason. Commits. Raises ForbiddenError, ValidationError (no reason), NotFoundError."""
    require_case_role(actor, HOLD_RELEASE_ROLES)
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise ValidationError("releasing a hold needs a reason", code="invalid_hold")
    holds = _unreleased(session, scope, actor)
    now = utcnow()
    for hold in holds:
        hold.released_at = now
        hold.released_by_id = actor.user_id
        hold.release_reason = reason
    object_type, object_id = scope.object
    # The reason is free text (it may name people), so it stays on the rows, not in the log.
    audit.record(
        session,
        "hold.release",
        **actor.audit(),
        object_type=object_type,
        object_id=object_id,
        details={"hold_ids": [hold.id for hold in holds]},
    )
    session.commit()
    return holds


def extend_case_holds(session: Session, case_id: int, days: int, actor: Actor) -> list[MediaHold]:
    return extend_holds(session, HoldScope(case_id=case_id), days, actor)


def release_case_holds(
    session: Session, case_id: int, reason: str, actor: Actor
) -> list[MediaHold]:
    return release_holds(session, HoldScope(case_id=case_id), reason, actor)
