"""Re-score waiting reports as they age against their review deadline.

A report's priority includes its age against the category's SLA ("sla.elapsed" points that grow
in steps as the deadline nears, "sla.overdue" once it has passed), but triage scores a report
once. This periodic pass finds open reports whose SLA points, computed now, differ from the ones
stored in their priority reasons, and re-scores them with the triage policy. Priority is derived
data, so no audit event is written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, selectinload

from models import Cluster, Report, utcnow
from moderation.policy import PriorityInput, compute_priority
from moderation.services import clusters
from moderation.services.signals import sla_deadline
from moderation.services.triage import OPEN_STATUSES, TriageSettings, prioritise

log = logging.getLogger(__name__)

# Open reports read per query while looking for stale scores (light columns only).
SCAN_BATCH = 2000


def sla_points(
    category: str,
    reporter_kind: str,
    received_at: datetime | None,
    sla_hours: Mapping[str, Any],
    weights: Mapping[str, int] | None,
    now: datetime,
) -> dict[str, int]:
    """The SLA reasons' points ({code: points}) the policy gives such a report at `now`.

    Computed by the policy itself, so this can never disagree with a full re-score."""
    probe = Report(category=category, reporter_kind=reporter_kind, received_at=received_at)
    facts = PriorityInput(
        category=category,
        reporter_kind=reporter_kind,
        received_at=received_at,
        sla_deadline=sla_deadline(probe, sla_hours),
        now=now,
    )
    _, reasons = compute_priority(facts, weights)
    return {reason.code: reason.points for reason in reasons if reason.code.startswith("sla.")}


def stored_sla_points(reasons: Sequence[Any] | None) -> dict[str, int]:
    """The SLA reasons' points as stored with the report's last score."""
    return {
        str(reason.get("code")): int(reason.get("points", 0))
        for reason in reasons or []
        if isinstance(reason, dict) and str(reason.get("code", "")).startswith("sla.")
    }


def stale_report_ids(
    session: Session, settings: TriageSettings, now: datetime, limit: int
) -> list[int]:
    """Up to `limit` open reports, oldest first, whose stored SLA points differ from now's."""
    stale: list[int] = []
    after: tuple[datetime, int] | None = None
    while len(stale) < limit:
        query = (
            select(
                Report.id,
                Report.received_at,
                Report.category,
                Report.reporter_kind,
                Report.priority_reasons,
            )
            .where(Report.status.in_(OPEN_STATUSES))
            .order_by(Report.received_at, Report.id)
            .limit(SCAN_BATCH)
        )
        if after is not None:
            query = query.where(tuple_(Report.received_at, Report.id) > after)
        rows = session.execute(query).all()
        for row in rows:
            current = sla_points(
                row.category,
                row.reporter_kind,
                row.received_at,
                settings.sla_hours,
                settings.priority_weights,
                now,
            )
            if current != stored_sla_points(row.priority_reasons):
                stale.append(row.id)
                if len(stale) >= limit:
                    break
        if len(rows) < SCAN_BATCH:
            break
        after = (rows[-1].received_at, rows[-1].id)
    return stale


def rescore_aging_reports(
    session: Session,
    settings: TriageSettings,
    now: datetime | None = None,
    limit: int = 1000,
    batch: int = 200,
) -> list[int]:
    """Re-score up to `limit` open reports whose SLA points changed; commit per batch.

    Each batch runs under the cluster lock, as triage's re-scoring of cluster members does, so a
    report joining a cluster meanwhile cannot be overwritten with a stale re-share count.
    Reports decided since the scan are skipped. Returns the ids re-scored."""
    now = now or utcnow()
    stale = stale_report_ids(session, settings, now, limit)
    session.commit()  # end the read transaction: each batch starts with the lock
    done: list[int] = []
    for start in range(0, len(stale), batch):
        clusters.lock_clusters(session)
        reports = session.execute(
            select(Report)
            .where(Report.id.in_(stale[start : start + batch]), Report.status.in_(OPEN_STATUSES))
            .order_by(Report.id)
            .options(selectinload(Report.signals), selectinload(Report.media))
        ).scalars()
        reports = list(reports)
        cluster_ids = {report.cluster_id for report in reports if report.cluster_id is not None}
        sizes = dict(
            session.execute(
                select(Cluster.id, Cluster.report_count).where(Cluster.id.in_(cluster_ids))
            ).all()
            if cluster_ids
            else []
        )
        for report in reports:
            size = sizes.get(report.cluster_id, 1) if report.cluster_id is not None else 1
            prioritise(session, report, settings, max(1, size), now)
            done.append(report.id)
        session.commit()
    if done:
        log.info("re-scored %d aging report(s)", len(done))
    return done
