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
from moderation.queueing import enqueue_triage


def pending_report_ids(
    session: Session, older_than: timedelta, stale_after: timedelta, limit: int = 1000
) -> list[int]:
    now = utcnow()
    rows = session.execute(
        select(Report.id)
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
    return list(rows.scalars())


def sweep_pending(
    session: Session, redis: Redis, older_than: timedelta, stale_after: timedelta
) -> list[int]:
    """Enqueue triage for every pending report not already waiting; returns the ids enqueued."""
    enqueued = []
    for report_id in pending_report_ids(session, older_than, stale_after):
        if enqueue_triage(redis, report_id) is not None:
            enqueued.append(report_id)
    return enqueued
