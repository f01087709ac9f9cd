"""The outbox sweeper: re-enqueue reports that were acknowledged but never triaged.

Intake answers 202 even when Redis is down; this is what makes that safe. It also rescues
reports whose triage worker died mid-job (left in `triaging` past the stale limit).
"""

from __future__ import annotations

from datetime import timedelta

from redis import Redis
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import Report, ReportStatus, utcnow
from moderation.core.queueing import enqueue_triage
from moderation.triage.lane import urgent_reports


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


def sweep_pending(
    session: Session, redis: Redis, older_than: timedelta, stale_after: timedelta
) -> list[int]:
    """Enqueue triage for every pending report not already waiting, on the queue intake would
    have chosen (triage/lane.py); returns the ids enqueued."""
    pending = pending_reports(session, older_than, stale_after)
    urgent = urgent_reports(session, pending)
    enqueued = []
    for report_id, _ in pending:
        if enqueue_triage(redis, report_id, urgent=report_id in urgent) is not None:
            enqueued.append(report_id)
    return enqueued
