"""Opening a case from reports, and adding reports to one: the reports not yet escalated are
escalated by it, and their media is held for the case. Each function commits.

Case numbers ("C-2026-0042") are the UTC year and a sequence that restarts each year; two
openers racing for the same number lose on the unique (year, sequence) constraint and take the
next one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import (
    Case,
    CaseReport,
    CaseStatus,
    CaseType,
    CaseUrgency,
    HoldReason,
    Report,
    ReportStatus,
    User,
    utcnow,
)
from moderation.accounts.permissions import may_know
from moderation.audit import events as audit
from moderation.cases.access import check_assignee, find_liaison, require_case, require_case_role
from moderation.cases.actor import Actor
from moderation.cases.escalation import escalate_now
from moderation.cases.holds import hold_report_media
from moderation.cases.service import MAX_REASON
from moderation.cases.settings import CaseSettings
from moderation.core.errors import ConflictError, NotFoundError, ValidationError

MAX_REPORTS = 500
LANGUAGES = ("en", "ko")


def case_number(year: int, sequence: int) -> str:
    """What people say on the phone: "C-2026-0042" (four digits, more when a year needs them)."""
    return f"C-{year}-{sequence:04d}"


def _choice(value: str, allowed: type[CaseType] | type[CaseUrgency], what: str) -> str:
    values = [member.value for member in allowed]
    if value not in values:
        raise ValidationError(f"the {what} must be one of {', '.join(values)}", code="invalid_case")
    return value


def _load_reports(
    session: Session, report_ids: Iterable[int], actor: Actor, with_clusters: bool
) -> list[Report]:
    ids = sorted(set(report_ids))
    if not ids:
        raise ValidationError("name at least one report", code="invalid_case")
    if len(ids) > MAX_REPORTS:
        raise ValidationError(f"at most {MAX_REPORTS} reports at once", code="invalid_case")
    reports = list(session.execute(select(Report).where(Report.id.in_(ids))).scalars())
    known = {
        report.id: report
        for report in reports
        if actor.user is None or may_know(actor.principal, report)
    }
    missing = [report_id for report_id in ids if report_id not in known]
    if missing:
        # One message for missing and hidden alike, so ids cannot be probed.
        raise NotFoundError(f"no such report: #{missing[0]}")
    if with_clusters:
        cluster_ids = {report.cluster_id for report in known.values() if report.cluster_id}
        if cluster_ids:
            others = session.execute(
                select(Report).where(Report.cluster_id.in_(cluster_ids), Report.id.not_in(ids))
            ).scalars()
            for report in others:
                # Copies still in triage join later; hidden ones are not the actor's to add.
                if report.status in (ReportStatus.RECEIVED, ReportStatus.TRIAGING):
                    continue
                if actor.user is None or may_know(actor.principal, report):
                    known[report.id] = report
    return [known[report_id] for report_id in sorted(known)]


def _finalize_first(session: Session, report_ids: list[int]) -> None:
    """Decisions of these reports whose undo window has passed become final before the case
    reads their status (finalize_due commits per batch, so it runs before any change here)."""
    from moderation.review.finalize import finalize_due  # local: review imports cases

    finalize_due(session, report_ids)


def _attach(
    session: Session, case: Case, reports: list[Report], actor: Actor, reason: str | None
) -> list[int]:
    """Escalate what is not yet escalated, link the reports and hold their media; returns the
    ids newly added. No commit."""
    present = set(
        session.execute(select(CaseReport.report_id).where(CaseReport.case_id == case.id)).scalars()
    )
    added: list[int] = []
    for report in reports:
        if report.id in present:
            continue
        if report.status != ReportStatus.ESCALATED:
            # The opener's reason for the case is the escalation's reason (None if none given:
            # the case.open event says which case took it).
            escalate_now(session, report, actor, reason)
        session.add(CaseReport(case_id=case.id, report_id=report.id, added_by_id=actor.user_id))
        added.append(report.id)
    session.flush()
    hold_report_media(session, added, reason=HoldReason.CASE, case_id=case.id, actor=actor)
    return added


def _number(session: Session, case: Case) -> None:
    """Give `case` the next number of its year (the unique constraint settles a race)."""
    year = case.opened_at.year
    last = session.execute(select(func.max(Case.sequence)).where(Case.year == year)).scalar_one()
    case.year, case.sequence = year, (last or 0) + 1
    case.number = case_number(case.year, case.sequence)


def _lost_number_race(error: IntegrityError) -> bool:
    # PostgreSQL names the constraint; SQLite names the columns.
    message = str(error.orig)
    return "uq_cases_" in message or "cases.year" in message or "cases.number" in message


def _language_of(reports: list[Report]) -> str:
    spoken = [report.language for report in reports if report.language in LANGUAGES]
    return max(LANGUAGES, key=spoken.count) if spoken else "en"


def open_case(
    session: Session,
    report_ids: Iterable[int],
    case_type: str,
    *,
    actor: Actor,
    settings: CaseSettings,
    liaison_email: str | None = None,
    urgency: str = CaseUrgency.ROUTINE.value,
    reason: str | None = None,
    language: str | None = None,
    with_clusters: bool = False,
) -> Case:
    """Open a case holding `report_ids` (and, `with_clusters`, every other triaged report of
    their clusters); reports not yet escalated are escalated by it, as `actor`'s doing; their
    media is held for the case. Commits and returns the case.

    Raises ForbiddenError (role), NotFoundError (a report missing or hidden from `actor`),
    ValidationError (type, urgency, language, liaison), ConflictError (a report in triage or
    with a decision in its undo window)."""
    require_case_role(actor)
    case_type = _choice(case_type, CaseType, "case type")
    urgency = _choice(urgency, CaseUrgency, "urgency")
    if language is not None and language not in LANGUAGES:
        raise ValidationError("the language must be en or ko", code="invalid_case")
    if reason is not None and len(reason) > MAX_REASON:
        raise ValidationError("the reason is too long", code="invalid_case")
    ids = sorted(set(report_ids))
    _finalize_first(session, ids)
    # No savepoint for the number race: on SQLite an outermost SAVEPOINT commits when it is
    # released. A lost race rolls the whole attempt back and starts again from the reads.
    for _attempt in range(10):
        try:
            return _open_once(
                session, ids, case_type, urgency, actor, settings, liaison_email, reason,
                language, with_clusters,
            )  # fmt: skip
        except IntegrityError as exc:
            session.rollback()
            if not _lost_number_race(exc):
                raise
        except Exception:
            session.rollback()
            raise
    raise ConflictError("could not number the case; try again", code="case_number")


def _open_once(
    session: Session,
    ids: list[int],
    case_type: str,
    urgency: str,
    actor: Actor,
    settings: CaseSettings,
    liaison_email: str | None,
    reason: str | None,
    language: str | None,
    with_clusters: bool,
) -> Case:
    reports = _load_reports(session, ids, actor, with_clusters)
    liaison = find_liaison(session, liaison_email)
    now = utcnow()
    case = Case(
        case_type=case_type,
        urgency=urgency,
        status=CaseStatus.OPEN,
        language=language or _language_of(reports),
        reason=(reason or "").strip() or None,
        assigned_liaison_id=liaison.id if liaison else None,
        opened_by_id=actor.user_id,
        opened_at=now,
        referral_due_at=now + timedelta(hours=settings.referral_hours),
    )
    _number(session, case)
    session.add(case)
    session.flush()
    added = _attach(session, case, reports, actor, case.reason)
    check_assignee(session, case, liaison, settings.csam_roles)
    audit.record(
        session,
        "case.open",
        **actor.audit(),
        object_type="case",
        object_id=case.id,
        details={
            "number": case.number,
            "case_type": case_type,
            "urgency": urgency,
            "report_ids": added,
            "assigned_liaison_id": case.assigned_liaison_id,
        },
    )
    session.commit()
    return case


def add_reports(
    session: Session,
    case_id: int,
    report_ids: Iterable[int],
    *,
    actor: Actor,
    settings: CaseSettings,
    with_clusters: bool = False,
) -> list[int]:
    """Add reports to an open case (escalating and holding as `open_case` does); commits and
    returns the ids newly added. Raises what `open_case` raises, and ConflictError for a closed
    case."""
    require_case_role(actor)
    ids = sorted(set(report_ids))
    _finalize_first(session, ids)
    case = require_case(session, case_id, actor)
    if case.status == CaseStatus.CLOSED:
        raise ConflictError("this case is closed", code="case_closed")
    reports = _load_reports(session, ids, actor, with_clusters)
    try:
        added = _attach(session, case, reports, actor, None)
        if case.assigned_liaison_id is not None:
            check_assignee(
                session, case, session.get(User, case.assigned_liaison_id), settings.csam_roles
            )
        audit.record(
            session,
            "case.add_reports",
            **actor.audit(),
            object_type="case",
            object_id=case.id,
            details={"report_ids": added},
        )
        session.commit()
    except Exception:
        session.rollback()
        raise
    return added
