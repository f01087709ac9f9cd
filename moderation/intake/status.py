"""The platforms' status view of one of their own reports (GET .../reports/<id>).

A platform learns only what concerns its own reports (security finding 9). Ranking reasons
drawn from other tenants' data are left out, and the priority shown is the sum of the reasons
shown: re-shares counted across platforms and victims' reports (`reshares`), and hash-bank
matches (`bank.*`: a platform could otherwise test whether a picture is in a bank that victims
or other platforms fed). `cluster_id` is given only when another report of the same platform
shares the cluster, so a re-share filed elsewhere is not revealed either.
"""

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


# Reason codes computed from other tenants' reports or from the banks (see the docstring).
_OTHER_TENANTS = ("reshares", "bank.")


def _own_reasons(reasons: list[Any] | None) -> tuple[int, list[dict[str, Any]]]:
    shown = [
        reason
        for reason in reasons or []
        if isinstance(reason, dict) and not str(reason.get("code", "")).startswith(_OTHER_TENANTS)
    ]
    points = sum(int(reason.get("points", 0)) for reason in shown)
    return max(0, min(100, points)), shown


def _own_cluster(session: Session, report: Report) -> int | None:
    if report.cluster_id is None:
        return None
    sibling = session.execute(
        select(Report.id)
        .where(
            Report.cluster_id == report.cluster_id,
            Report.platform_id == report.platform_id,
            Report.id != report.id,
        )
        .limit(1)
    ).first()
    return report.cluster_id if sibling is not None else None


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
    priority, reasons = _own_reasons(report.priority_reasons)
    return {
        "id": report.id,
        "external_id": report.external_id,
        "status": report.status,
        "priority": priority,
        "priority_reasons": reasons,
        "decision": None
        if decision is None
        else {
            "action": decision.action,
            "reason": decision.reason,
            "decided_at": decision.created_at.isoformat(),
        },
        "media": [_media_view(media) for media in report.media],
        "cluster_id": _own_cluster(session, report),
    }
