"""Who triages a report: the claim that moves it to `triaging` (one worker wins, a compare-
and-set in the database), and the check before triage writes its results that the claim is still
this worker's (the sweeper gives back the reports of workers whose heartbeat stopped)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from models import Report, ReportStatus, utcnow


def claim(session: Session, report_id: int, stale_after: timedelta) -> Report | None:
    """Move the report to `triaging` if it is waiting (or its last triage died); commit.

    Returns the claimed report with its media and signals loaded (read by the same transaction
    that claimed it, so triage needs no second round trip to reload it), or None when another
    worker holds it or the work is already done.
    """
    now = utcnow()
    report = (
        session.execute(
            update(Report)
            .where(
                Report.id == report_id,
                or_(
                    Report.status == ReportStatus.RECEIVED,
                    (Report.status == ReportStatus.TRIAGING)
                    & (Report.triage_started_at < now - stale_after),
                ),
            )
            .values(
                status=ReportStatus.TRIAGING,
                triage_started_at=now,
                triage_attempts=Report.triage_attempts + 1,
            )
            .returning(Report)
            # Signals too: priority reads them, and loading them here keeps that read out of
            # the cluster lock.
            .options(selectinload(Report.media), selectinload(Report.signals)),
            # The row as claimed, even if the caller's session already held the report.
            execution_options={"synchronize_session": False, "populate_existing": True},
        )
        .scalars()
        .one_or_none()
    )
    session.commit()
    return report


def still_claimed(session: Session, report_id: int, attempt: int) -> str | None:
    """The report's current category if it is still `triaging` under claim number `attempt`
    (its `triage_attempts` when claimed), else None. Locks the row (FOR UPDATE, on PostgreSQL)
    until the caller's transaction ends, so it cannot be given away before the commit; on
    SQLite the write that follows holds the database lock instead."""
    row = session.execute(
        select(Report.category, Report.status, Report.triage_attempts)
        .where(Report.id == report_id)
        .with_for_update()
    ).one_or_none()
    if row is None or row.status != ReportStatus.TRIAGING or row.triage_attempts != attempt:
        return None
    return str(row.category)
