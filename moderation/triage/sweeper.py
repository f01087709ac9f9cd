"""The outbox sweeper: re-enqueue reports that were acknowledged but never triaged.

Intake answers 202 even when Redis is down; this is what makes that safe. It also rescues
reports whose triage worker died mid-job (left in `triaging` past the stale limit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

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


@dataclass(frozen=True)
class SweepSettings:
    """A report is rescued once pending `older_than`, or triaging for `stale_after` (a worker
    that died mid-job)."""

    older_than: timedelta
    stale_after: timedelta

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SweepSettings:
        return cls(
            timedelta(seconds=int(config["SWEEP_PENDING_AFTER_SECONDS"])),
            timedelta(seconds=int(config["TRIAGE_STALE_AFTER_SECONDS"])),
        )


def sweep_pending(session: Session, redis: Redis, settings: SweepSettings) -> list[int]:
    """Enqueue triage for every pending report not already waiting, on the queue intake would
    have chosen (triage/lane.py); returns the ids enqueued."""
    pending = pending_reports(session, settings.older_than, settings.stale_after)
    urgent = urgent_reports(session, pending)
    enqueued = []
    for report_id, _ in pending:
        if enqueue_triage(redis, report_id, urgent=report_id in urgent) is not None:
            enqueued.append(report_id)
    return enqueued
