"""The platforms' status view of one of their own reports (GET .../reports/<id>)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import Decision, DecisionState, Media, Platform, Report
from moderation.core.errors import NotFoundError
from moderation.review.finalize import finalize_due


def _media_view(media: Media) -> dict[str, Any]:
    return {
        "sha256": media.sha256,
        "md5": media.md5,
        "pdq": media.pdq,
        "pdq_quality": media.pdq_quality,
        "state": media.state,
        "error": media.error,
    }


def report_status(session: Session, platform: Platform, report_id: int) -> dict[str, Any]:
    """The status document of one of `platform`'s reports; NotFoundError for anyone else's.

    A decision whose undo window has passed is finalised first, so the platform never sees a
    decision that could still be undone, nor a stale status."""
    finalize_due(session, [report_id])
    report = session.execute(
        select(Report)
        .where(Report.id == report_id, Report.platform_id == platform.id)
        .options(selectinload(Report.media))
    ).scalar_one_or_none()
    if report is None:
        raise NotFoundError("no such report")
    decision = session.execute(
        select(Decision)
        .where(Decision.report_id == report.id, Decision.state == DecisionState.FINAL.value)
        .order_by(Decision.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return {
        "id": report.id,
        "external_id": report.external_id,
        "status": report.status,
        "priority": report.priority,
        "priority_reasons": report.priority_reasons,
        "decision": None
        if decision is None
        else {
            "action": decision.action,
            "reason": decision.reason,
            "decided_at": decision.created_at.isoformat(),
        },
        "media": [_media_view(media) for media in report.media],
        "cluster_id": report.cluster_id,
    }
