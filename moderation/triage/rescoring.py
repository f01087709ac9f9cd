"""Re-score open reports with the triage policy, under the cluster lock.

Priority is derived data: the same policy triage uses, fed the report's stored signals and its
cluster's current size. Used when something the score reads changed after triage: a report's age
against its deadline (triage/aging.py) or its category (an upstream update, see
intake/mastodon.py). No audit event: what changed was audited where it changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import OPEN_STATUSES, Cluster, Report, utcnow
from moderation.triage import clusters
from moderation.triage.pipeline import TriageSettings, prioritise


def rescore_reports(
    session: Session,
    settings: TriageSettings,
    report_ids: Sequence[int],
    now: datetime | None = None,
) -> list[int]:
    """Re-score those of `report_ids` that are open (queued or in review) and commit; returns
    their ids in id order.

    Runs under the cluster lock, as triage's re-scoring of cluster members does, so a report
    joining a cluster meanwhile cannot be overwritten with a stale re-share count, and a report
    still being triaged is left to triage (it is not open yet)."""
    now = now or utcnow()
    clusters.lock_clusters(session)
    reports = list(
        session.execute(
            select(Report)
            .where(Report.id.in_(list(report_ids)), Report.status.in_(OPEN_STATUSES))
            .order_by(Report.id)
            .options(selectinload(Report.signals), selectinload(Report.media))
        ).scalars()
    )
    cluster_ids = {report.cluster_id for report in reports if report.cluster_id is not None}
    sizes = (
        dict(
            session.execute(
                select(Cluster.id, Cluster.report_count).where(Cluster.id.in_(cluster_ids))
            ).all()
        )
        if cluster_ids
        else {}
    )
    for report in reports:
        size = sizes.get(report.cluster_id, 1) if report.cluster_id is not None else 1
        prioritise(session, report, settings, max(1, size), now)
    session.commit()
    return [report.id for report in reports]
