"""The `moderation case` commands: open, add, list, show, assign, status, note (`case export`
and `case hold` are moderation/cli/case_evidence.py; moderation/cli/evidence.py has `evidence`,
`retention` and `police`).
Thin: parse, call the service, print; `--json` prints one JSON document for scripts."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from models import CaseStatus, CaseType, CaseUrgency
from moderation.cases.actor import Actor
from moderation.cli.case_evidence import case_export, hold_group
from moderation.cli.evidence import evidence_group, police_group, retention_group
from moderation.cli.output import emit, fail_with
from moderation.cli.wiring import case_settings
from moderation.core.db import db
from moderation.core.errors import DomainError


def _case_line(doc: dict[str, Any]) -> str:
    liaison = doc["assigned_liaison"] or "unassigned"
    referral = doc["referral"]
    return (
        f"{doc['number']}\t#{doc['id']}\t{doc['type']}\t{doc['urgency']}\t{doc['status']}\t"
        f"{liaison}\t{doc['report_count']} report(s)\treferral {referral['state']} "
        f"(due {referral['due_at']})"
    )


def _detail_text(doc: dict[str, Any]) -> str:
    lines = [_case_line(doc)]
    if doc["reason"]:
        lines.append(f"reason: {doc['reason']}")
    lines.append(f"opened {doc['opened_at']} by {doc['opened_by'] or 'the command line'}")
    for step, done in doc["workflow"].items():
        if done["at"]:
            lines.append(f"{step} {done['at']} by {done['by'] or 'the command line'}")
    for report in doc["reports"]:
        escalation = report["escalation"] or {}
        why = escalation.get("reason") or "no reason given"
        lines.append(
            f"  report #{report['id']} ({report['platform']}, {report['category']}, "
            f"{report['status']}): escalated by {escalation.get('by') or 'the command line'}: {why}"
        )
    for note in doc["notes"]:
        lines.append(f"  note {note['at']} {note['by'] or 'the command line'}: {note['body']}")
    holds = doc["holds"]
    lines.append(
        f"holds: {holds['active']} active of {holds['total']}, until {holds['expires_at']}"
    )
    return "\n".join(lines)


@click.group("case", help="Cases for law-enforcement liaisons.")
def case_group() -> None:
    pass


@case_group.command("open")
@click.argument("report_ids", nargs=-1, required=True, type=int)
@click.option("--type", "case_type", required=True, type=click.Choice([t.value for t in CaseType]))
@click.option("--liaison", "liaison_email", default=None, help="Assign to this liaison (email).")
@click.option(
    "--urgency",
    default=CaseUrgency.ROUTINE.value,
    type=click.Choice([u.value for u in CaseUrgency]),
)
@click.option("--reason", default=None, help="Why the case is opened (kept and shown).")
@click.option("--language", default=None, type=click.Choice(["en", "ko"]), help="Of the summary.")
@click.option("--with-cluster", is_flag=True, help="Also every copy in the reports' clusters.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def case_open(
    report_ids: tuple[int, ...],
    case_type: str,
    liaison_email: str | None,
    urgency: str,
    reason: str | None,
    language: str | None,
    with_cluster: bool,
    as_json: bool,
) -> None:
    """Open a case from REPORT_IDS; reports not yet escalated are escalated by this command."""
    from moderation.cases.opening import open_case
    from moderation.cases.presenting import case_detail

    try:
        case = open_case(
            db.session,
            report_ids,
            case_type,
            actor=Actor.cli(),
            settings=case_settings(),
            liaison_email=liaison_email,
            urgency=urgency,
            reason=reason,
            language=language,
            with_clusters=with_cluster,
        )
    except DomainError as exc:
        fail_with(exc, as_json)
    doc = case_detail(db.session, case)
    emit(
        doc, as_json, f"opened case {case.number} (#{case.id}) with {doc['report_count']} report(s)"
    )


@case_group.command("add")
@click.argument("case_id")
@click.argument("report_ids", nargs=-1, required=True, type=int)
@click.option("--with-cluster", is_flag=True, help="Also every copy in the reports' clusters.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def case_add(case_id: str, report_ids: tuple[int, ...], with_cluster: bool, as_json: bool) -> None:
    """Add REPORT_IDS to case CASE_ID (an id or a number such as C-2026-0042)."""
    from moderation.cases.opening import add_reports
    from moderation.cases.service import find_case

    try:
        case = find_case(db.session, case_id, Actor.cli())
        added = add_reports(
            db.session,
            case.id,
            report_ids,
            actor=Actor.cli(),
            settings=case_settings(),
            with_clusters=with_cluster,
        )
    except DomainError as exc:
        fail_with(exc, as_json)
    emit(
        {"id": case.id, "number": case.number, "added_report_ids": added},
        as_json,
        f"added {len(added)} report(s) to {case.number}",
    )


@case_group.command("list")
@click.option("--status", default=None, type=click.Choice([s.value for s in CaseStatus]))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@with_appcontext
def case_list(status: str | None, as_json: bool) -> None:
    """List cases, newest first, with their referral clock."""
    from moderation.cases.presenting import case_summary
    from moderation.cases.service import list_cases

    docs = [case_summary(db.session, c) for c in list_cases(db.session, Actor.cli(), status=status)]
    emit(docs, as_json, "\n".join(_case_line(doc) for doc in docs) or "no cases")


@case_group.command("escalations")
@click.option("--waiting", is_flag=True, help="Only those no case holds yet.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@with_appcontext
def case_escalations(waiting: bool, as_json: bool) -> None:
    """List escalated reports with who escalated them, when, why, and their cases."""
    from sqlalchemy import true

    from moderation.cases.escalation import escalated_reports

    rows = escalated_reports(db.session, true(), without_case=waiting)
    docs = [
        {
            "report_id": report.id,
            "category": report.category,
            "cluster_id": report.cluster_id,
            "escalation": escalation.to_dict() if escalation else None,
            "case_ids": case_ids,
        }
        for report, escalation, case_ids in rows
    ]
    lines = [
        f"#{d['report_id']}\t{d['category']}\t"
        f"{(d['escalation'] or {}).get('reason') or 'no reason given'}\t"
        f"cases: {', '.join(map(str, d['case_ids'])) or 'none'}"
        for d in docs
    ]
    emit(docs, as_json, "\n".join(lines) or "no escalated reports")


@case_group.command("show")
@click.argument("case_id")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def case_show(case_id: str, as_json: bool) -> None:
    """Show case CASE_ID (an id or a number): workflow, reports and why, notes, holds."""
    from moderation.cases.presenting import case_detail
    from moderation.cases.service import find_case

    try:
        case = find_case(db.session, case_id, Actor.cli())
    except DomainError as exc:
        fail_with(exc, as_json)
    doc = case_detail(db.session, case)
    emit(doc, as_json, _detail_text(doc))


@case_group.command("assign")
@click.argument("case_id")
@click.argument("liaison_email", required=False)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def case_assign(case_id: str, liaison_email: str | None, as_json: bool) -> None:
    """Assign case CASE_ID to LIAISON_EMAIL (omit it to unassign)."""
    from moderation.cases.service import assign, find_case

    try:
        case = find_case(db.session, case_id, Actor.cli())
        case = assign(
            db.session, case.id, liaison_email, actor=Actor.cli(), settings=case_settings()
        )
    except DomainError as exc:
        fail_with(exc, as_json)
    emit(
        {"id": case.id, "number": case.number, "assigned_liaison": liaison_email},
        as_json,
        f"{case.number}: {'assigned to ' + liaison_email if liaison_email else 'unassigned'}",
    )


@case_group.command("status")
@click.argument("case_id")
@click.argument("status", type=click.Choice([s.value for s in CaseStatus if s != CaseStatus.OPEN]))
@click.option("--reason", default=None, help="Required to close.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def case_status(case_id: str, status: str, reason: str | None, as_json: bool) -> None:
    """Move case CASE_ID along: referred, acknowledged, closed (with --reason)."""
    from moderation.cases.service import advance, find_case

    try:
        case = find_case(db.session, case_id, Actor.cli())
        case = advance(db.session, case.id, status, actor=Actor.cli(), reason=reason)
    except DomainError as exc:
        fail_with(exc, as_json)
    emit(
        {"id": case.id, "number": case.number, "status": str(case.status)},
        as_json,
        f"{case.number}: {case.status}",
    )


@case_group.command("note")
@click.argument("case_id")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def case_note(case_id: str, text: str, as_json: bool) -> None:
    """Add a note to case CASE_ID."""
    from moderation.cases.service import add_note, find_case

    try:
        case = find_case(db.session, case_id, Actor.cli())
        note = add_note(db.session, case.id, text, actor=Actor.cli())
    except DomainError as exc:
        fail_with(exc, as_json)
    emit({"id": case.id, "note_id": note.id}, as_json, f"{case.number}: note #{note.id} added")


case_group.add_command(case_export)
case_group.add_command(hold_group)

COMMANDS = (case_group, evidence_group, retention_group, police_group)
