"""The outbox sweeper: re-enqueue reports that were acknowledged but never triaged.

Intake answers 202 even when Redis is down; this is what makes that safe. It also rescues
reports whose triage worker died mid-job: `triaging` with no heartbeat for `dead_after`
(moderation/triage/heartbeat.py), or past the hard `stale_after` limit; and reports whose worker
died after taking the job but before claiming the report (`received`, its job `started` for
longer than `dead_after`, or `queued` on no queue).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis import Redis
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from models import Report, ReportStatus, utcnow
from moderation.core.queueing import enqueue_triage
from moderation.triage.lane import urgent_reports


def _dead(now: Any, dead_after: timedelta, stale_after: timedelta) -> Any:
    last_sign = func.coalesce(Report.triage_heartbeat_at, Report.triage_started_at)
    return (Report.status == ReportStatus.TRIAGING) & or_(
        last_sign < now - dead_after, Report.triage_started_at < now - stale_after
    )


def release_dead(
    session: Session, dead_after: timedelta, stale_after: timedelta, limit: int = 1000
) -> list[int]:
    """Give back (`received`) reports whose triage worker stopped beating; commits. Guarded by
    the same condition, so a worker that beats again in the meantime keeps its report."""
    now = utcnow()
    ids = list(
        session.execute(
            select(Report.id).where(_dead(now, dead_after, stale_after)).limit(limit)
        ).scalars()
    )
    released = []
    for report_id in ids:
        result = session.execute(
            update(Report)
            .where(Report.id == report_id, _dead(now, dead_after, stale_after))
            .values(status=ReportStatus.RECEIVED)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:
            released.append(report_id)
    session.commit()
    return released


def pending_reports(
    session: Session, older_than: timedelta, stale_after: timedelta, limit: int = 1000
) -> list[tuple[int, str]]:
    """(id, reporter kind) of reports acknowledged but not triaged, oldest id first."""
    now = utcnow()
    rows = session.execute(
        select(Report.id, Report.reporter_kind)
        .where(
            or_(
                (Report.status == ReportStatus.RECEIVED) & (Report.received_at < now - older_than),
                (Report.status == ReportStatus.TRIAGING)
                & (Report.triage_started_at < now - stale_after),
            )
        )
        .order_by(Report.id)
        .limit(limit)
    )
    return [(int(row[0]), str(row[1])) for row in rows]


@dataclass(frozen=True)
class SweepSettings:
    """A report is rescued once pending `older_than`, or triaging for `stale_after` (a worker
    that died mid-job)."""

    older_than: timedelta
    stale_after: timedelta
    # No heartbeat for this long: the worker died (it beats every 10 s while alive).
    dead_after: timedelta = timedelta(seconds=45)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SweepSettings:
        return cls(
            timedelta(seconds=int(config["SWEEP_PENDING_AFTER_SECONDS"])),
            timedelta(seconds=int(config["TRIAGE_STALE_AFTER_SECONDS"])),
            timedelta(seconds=int(config["TRIAGE_DEAD_AFTER_SECONDS"])),
        )


def sweep_pending(session: Session, redis: Redis, settings: SweepSettings) -> list[int]:
    """Enqueue triage for every pending report not already waiting, on the queue intake would
    have chosen (triage/lane.py); returns the ids enqueued."""
    released = set(release_dead(session, settings.dead_after, settings.stale_after))
    pending = pending_reports(session, settings.older_than, settings.stale_after)
    pending += [
        (report_id, kind)
        for report_id, kind in session.execute(
            select(Report.id, Report.reporter_kind).where(Report.id.in_(released))
        ).all()
        if report_id not in {row[0] for row in pending}
    ]
    session.commit()
    urgent = urgent_reports(session, pending)
    enqueued = []
    for report_id, _ in pending:
        # A dead worker's job still says "started": replace it rather than wait for it. So is
        # the job of a pending (unclaimed) report that started `dead_after` ago, or says
        # "queued" but is on no queue: a live worker claims within a moment of popping the
        # job, so its worker died in between (RQ itself would never run it again).
        job = enqueue_triage(
            redis,
            report_id,
            urgent=report_id in urgent,
            replace=report_id in released,
            unclaimed_after=settings.dead_after,
        )
        if job is not None:
            enqueued.append(report_id)
    return enqueued
