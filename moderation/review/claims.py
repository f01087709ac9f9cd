"""Claims: a lease that says who is reviewing a report, so two moderators never decide the same
one. Opening or browsing an item takes none; a moderator claims when they start reviewing (the
queue's "start", "submit and next", the hold key) or act (reveal, decide), releases on leaving
or with the key, and a senior can take over a claim that blocks the queue.

A claim is one row per report in `review_claims`, taken by a compare-and-set: an INSERT that does
nothing when the row exists, else an UPDATE that only matches when the lease is ours or expired.
Both are single statements, so the database decides every race, on PostgreSQL and SQLite alike.
The helpers here never commit; `hold`, `release` and `take_over` are the commands a view calls,
and they commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.orm import Session

from models import Decision, DecisionState, Report, ReportStatus, ReviewClaim, User, utcnow
from moderation.audit import events as audit
from moderation.core.errors import ConflictError
from moderation.core.locks import insert_for


@dataclass(frozen=True)
class ClaimResult:
    acquired: bool
    holder_user_id: int
    holder_email: str | None
    expires_at: datetime


@dataclass(frozen=True)
class Holder:
    """Who holds a live claim on a report, for the item page."""

    user_id: int
    email: str
    expires_at: datetime

    def is_user(self, user_id: int) -> bool:
        return self.user_id == user_id


def _insert_claim(
    session: Session, report_id: int, user_id: int, now: datetime, expires: datetime
) -> bool:
    values = {"report_id": report_id, "user_id": user_id, "claimed_at": now, "expires_at": expires}
    result = session.execute(
        insert_for(session, ReviewClaim)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["report_id"])
    )
    return result.rowcount == 1


def claim(session: Session, report_id: int, user_id: int, minutes: float) -> ClaimResult:
    """Lease `report_id` to `user_id` for `minutes`, renewing our own lease or taking over an
    expired one; no commit. When someone else holds a live lease, returns acquired=False with
    who holds it. A queued report moves to `in_review` when claimed."""
    now = utcnow()
    expires = now + timedelta(minutes=minutes)
    acquired = _insert_claim(session, report_id, user_id, now, expires)
    if not acquired:
        taken = session.execute(
            update(ReviewClaim)
            .where(
                ReviewClaim.report_id == report_id,
                or_(ReviewClaim.user_id == user_id, ReviewClaim.expires_at <= now),
            )
            .values(user_id=user_id, expires_at=expires)
            .execution_options(synchronize_session=False)
        )
        acquired = taken.rowcount == 1
    if acquired:
        session.execute(
            update(Report)
            .where(Report.id == report_id, Report.status == ReportStatus.QUEUED.value)
            .values(status=ReportStatus.IN_REVIEW.value)
            .execution_options(synchronize_session=False)
        )
    row = session.execute(
        select(ReviewClaim.user_id, ReviewClaim.expires_at, User.email)
        .join(User, User.id == ReviewClaim.user_id)
        .where(ReviewClaim.report_id == report_id)
    ).one()
    return ClaimResult(acquired, row.user_id, row.email, row.expires_at)


def require_claim(session: Session, report_id: int, user_id: int, minutes: float) -> ClaimResult:
    """Claim or renew, raising ConflictError (409) when another moderator holds the report; no
    commit."""
    result = claim(session, report_id, user_id, minutes)
    if not result.acquired:
        raise ConflictError("another moderator is reviewing this report", code="claimed")
    return result


def extend_claim(session: Session, report_id: int, user_id: int, until: datetime) -> None:
    """Keep our lease at least until `until` (a pending decision holds the report); no commit."""
    session.execute(
        update(ReviewClaim)
        .where(
            ReviewClaim.report_id == report_id,
            ReviewClaim.user_id == user_id,
            ReviewClaim.expires_at < until,
        )
        .values(expires_at=until)
        .execution_options(synchronize_session=False)
    )


def current_holder(session: Session, report_id: int) -> Holder | None:
    """Who holds the live lease on `report_id`, if anyone."""
    row = session.execute(
        select(ReviewClaim.user_id, User.email, ReviewClaim.expires_at)
        .join(User, User.id == ReviewClaim.user_id)
        .where(ReviewClaim.report_id == report_id, ReviewClaim.expires_at > utcnow())
    ).first()
    return Holder(row.user_id, row.email, row.expires_at) if row else None


def _back_to_queue(session: Session, report_id: int) -> None:
    """A report nobody holds any more waits again ("waiting for review", not "in review"),
    unless a decision on it is waiting for its undo window."""
    pending = exists().where(
        Decision.report_id == report_id, Decision.state == DecisionState.PENDING.value
    )
    session.execute(
        update(Report)
        .where(Report.id == report_id, Report.status == ReportStatus.IN_REVIEW.value, ~pending)
        .values(status=ReportStatus.QUEUED.value)
        .execution_options(synchronize_session=False)
    )


def hold(session: Session, report_id: int, user_id: int, minutes: float) -> ClaimResult:
    """The moderator starts reviewing: claim (or renew) and commit. Returns acquired=False,
    with the holder, when someone else has it."""
    result = claim(session, report_id, user_id, minutes)
    session.commit()
    return result


def release(session: Session, report_id: int, user_id: int) -> bool:
    """Give up our claim (leaving the item, or the release key) and commit; True if we held
    one. The report waits in the queue again."""
    removed = session.execute(
        delete(ReviewClaim)
        .where(ReviewClaim.report_id == report_id, ReviewClaim.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    if removed.rowcount:
        _back_to_queue(session, report_id)
    session.commit()
    return bool(removed.rowcount)


def take_over(session: Session, report_id: int, user_id: int, minutes: float) -> ClaimResult:
    """A senior takes a claim someone else holds (gone home, stuck); audited with whose it
    was; commits. Taking a free or own claim is an ordinary hold."""
    previous = current_holder(session, report_id)
    if previous is not None and not previous.is_user(user_id):
        session.execute(
            delete(ReviewClaim)
            .where(ReviewClaim.report_id == report_id)
            .execution_options(synchronize_session=False)
        )
        audit.record(
            session,
            "claim.take_over",
            actor_user_id=user_id,
            object_type="report",
            object_id=report_id,
            details={"from_user_id": previous.user_id},
        )
    result = claim(session, report_id, user_id, minutes)
    session.commit()
    return result
