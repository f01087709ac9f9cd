"""Suspected-CSAM restriction follows the content, not the report.

A report is restricted (known only to `CSAM_ROLES`) when it is itself filed as suspected CSAM,
when any report in its cluster is, or when any of its media has the exact bytes (SHA-256) of a
medium of such a report. So a platform that files the same picture as `ncii`, or a duplicate
that joined the cluster before an upstream update raised one report to CSAM, is hidden from
moderators at once, with no flag to propagate and no window in which a copy stays visible.

Both forms decide the same thing: `restricted_clause()` for list queries over `Report`, and
`is_restricted()` for one loaded report.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session, aliased, object_session

from models import Category, Media, Report

CSAM = Category.CSAM_SUSPECTED


def restricted_clause() -> ColumnElement[bool]:
    """True for `Report` rows whose content is suspected CSAM anywhere it appears."""
    other = aliased(Report)
    ours, theirs = aliased(Media), aliased(Media)
    in_restricted_cluster = exists().where(
        Report.cluster_id.is_not(None),
        other.cluster_id == Report.cluster_id,
        other.category == CSAM,
    )
    shares_restricted_bytes = exists(
        select(ours.id)
        .join(theirs, theirs.sha256 == ours.sha256)
        .join(other, other.id == theirs.report_id)
        .where(ours.report_id == Report.id, ours.sha256.is_not(None), other.category == CSAM)
    )
    return or_(Report.category == CSAM, in_restricted_cluster, shares_restricted_bytes)


def is_restricted(report: Report, session: Session | None = None) -> bool:
    """Whether one report's content is restricted; reads the database when the report is
    persistent (a transient report is judged by its own category)."""
    if str(report.category) == CSAM:
        return True
    session = session or object_session(report)
    if session is None or report.id is None:
        return False
    found = session.execute(
        select(Report.id).where(Report.id == report.id, restricted_clause()).limit(1)
    ).first()
    return found is not None
