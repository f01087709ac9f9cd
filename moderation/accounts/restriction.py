"""Suspected-CSAM restriction follows the content, not the report.

A report is marked as suspected CSAM when it is filed so or when any of its media matched a
CSAM-kind hash bank (`BankKind.CSAM`). A report is restricted (known only to `CSAM_ROLES`) when it
is marked, when any report in its cluster is, or when any of its media has the exact bytes
(SHA-256) of a medium of a marked report. So a platform that files the same picture as `ncii`,
or a duplicate that joined the cluster before an upstream update raised one report to CSAM, is
hidden from moderators at once, with no flag to propagate and no window in which a copy stays
visible.

Both forms decide the same thing: `restricted_clause()` for list queries over `Report`, and
`is_restricted()` for one loaded report.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session, aliased, object_session

from models import BankKind, Category, Media, Report, Signal, SignalKind

CSAM = Category.CSAM_SUSPECTED


def _marked(report: Any) -> ColumnElement[bool]:
    """`report` (the entity or an alias) is filed as suspected CSAM or matched a CSAM bank."""
    bank_signal = aliased(Signal)
    return or_(
        report.category == CSAM,
        exists().where(
            bank_signal.report_id == report.id,
            bank_signal.kind == SignalKind.BANK,
            bank_signal.label == BankKind.CSAM,
        ),
    )


def restricted_clause() -> ColumnElement[bool]:
    """True for `Report` rows whose content is suspected CSAM anywhere it appears."""
    other = aliased(Report)
    ours, theirs = aliased(Media), aliased(Media)
    in_restricted_cluster = exists().where(
        Report.cluster_id.is_not(None),
        other.cluster_id == Report.cluster_id,
        _marked(other),
    )
    shares_restricted_bytes = exists(
        select(ours.id)
        .join(theirs, theirs.sha256 == ours.sha256)
        .join(other, other.id == theirs.report_id)
        .where(ours.report_id == Report.id, ours.sha256.is_not(None), _marked(other))
    )
    return or_(_marked(Report), in_restricted_cluster, shares_restricted_bytes)


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
