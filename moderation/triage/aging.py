"""Re-score waiting reports as they age against their review deadline.

A report's priority includes its age against the category's SLA ("sla.elapsed" points that grow
in steps as the deadline nears, "sla.overdue" once it has passed), but triage scores a report
once. This periodic pass finds open reports whose row-derived reasons (the SLA points, and which
category reasons they have), computed now, differ from the ones stored with their priority, and
re-scores them with the triage policy. The category part also catches a category
raised upstream (intake/mastodon.py) whose immediate re-score job was lost with Redis.
Priority is derived data, so no audit event is written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from models import OPEN_STATUSES, Report, utcnow
from moderation.core import sla
from moderation.triage.pipeline import TriageSettings
from moderation.triage.policy import PriorityInput, compute_priority
from moderation.triage.rescoring import rescore_reports

log = logging.getLogger(__name__)

# Open reports read per query while looking for stale scores (light columns only).
SCAN_BATCH = 2000


# What of a score depends only on the report's own row: the SLA points (its age against the
# category's deadline) and which category reasons it has (the points of those change only with
# the operator's weights, which this pass leaves alone).
RowSignature = tuple[dict[str, int], frozenset[str]]
_CATEGORY_CODES = ("category.", "minor.suspected")


def _signature(reasons: Iterable[tuple[str, int]]) -> RowSignature:
    pairs = list(reasons)
    sla = {code: points for code, points in pairs if code.startswith("sla.")}
    return sla, frozenset(code for code, _ in pairs if code.startswith(_CATEGORY_CODES))


def row_signature(
    category: str,
    reporter_kind: str,
    received_at: datetime | None,
    sla_hours: Mapping[str, Any],
    weights: Mapping[str, int] | None,
    now: datetime,
) -> RowSignature:
    """The row-derived part of the score the policy gives such a report at `now`.

    Computed by the policy itself, so this can never disagree with a full re-score."""
    facts = PriorityInput(
        category=category,
        reporter_kind=reporter_kind,
        received_at=received_at,
        sla_deadline=sla.sla_deadline(sla_hours, category, received_at),
        now=now,
    )
    _, reasons = compute_priority(facts, weights)
    return _signature((reason.code, reason.points) for reason in reasons)


def stored_row_signature(reasons: Sequence[Any] | None) -> RowSignature:
    """The row-derived part of the report's last score, from its stored reasons."""
    return _signature(
        (str(reason.get("code", "")), int(reason.get("points", 0)))
        for reason in reasons or []
        if isinstance(reason, dict)
    )


def stale_report_ids(
    session: Session, settings: TriageSettings, now: datetime, limit: int
) -> list[int]:
    """Up to `limit` open reports, oldest first, whose stored row-derived reasons differ from
    now's."""
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
            current = row_signature(
                row.category,
                row.reporter_kind,
                row.received_at,
                settings.sla_hours,
                settings.priority_weights,
                now,
            )
            if current != stored_row_signature(row.priority_reasons):
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
    """Re-score up to `limit` open reports whose row-derived reasons changed; commit per batch.

    Each batch runs under the cluster lock, as triage's re-scoring of cluster members does, so a
    report joining a cluster meanwhile cannot be overwritten with a stale re-share count.
    Reports decided since the scan are skipped. Returns the ids re-scored."""
    now = now or utcnow()
    stale = stale_report_ids(session, settings, now, limit)
    session.commit()  # end the read transaction: each batch starts with the lock
    done: list[int] = []
    for start in range(0, len(stale), batch):
        # Reports decided since the scan are skipped there (only open ones are re-scored).
        done += rescore_reports(session, settings, stale[start : start + batch], now)
    if done:
        log.info("re-scored %d aging report(s)", len(done))
    return done
