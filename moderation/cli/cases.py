"""The `moderation case` commands (open, add, list, show, assign, status, note, export), and
`moderation evidence` (verify, key) and `moderation retention run`. Thin: parse, call the
service, print; `--json` prints one JSON document for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from models import CaseStatus, CaseType, CaseUrgency
from moderation.cases.actor import Actor
from moderation.core.db import db
from moderation.core.errors import DomainError


def _fail(code: str, message: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"error": code, "message": message}))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _emit(document: dict[str, Any] | list[Any], as_json: bool, text: str) -> None:
    click.echo(json.dumps(document, ensure_ascii=False) if as_json else text)


def _settings() -> Any:
    from moderation.cases.settings import CaseSettings

    return CaseSettings.from_config(current_app.config)


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
    from moderation.cases.presenting import case_detail
    from moderation.cases.service import open_case

    try:
        case = open_case(
            db.session,
            report_ids,
            case_type,
            actor=Actor.cli(),
            settings=_settings(),
            liaison_email=liaison_email,
            urgency=urgency,
            reason=reason,
            language=language,
            with_clusters=with_cluster,
        )
    except DomainError as exc:
        _fail(exc.code, exc.message, as_json)
        return
    doc = case_detail(db.session, case)
    _emit(
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
    from moderation.cases.service import add_reports, find_case

    try:
        case = find_case(db.session, case_id, Actor.cli())
        added = add_reports(
            db.session, case.id, report_ids, actor=Actor.cli(), with_clusters=with_cluster
        )
    except DomainError as exc:
        _fail(exc.code, exc.message, as_json)
        return
    _emit(
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
    _emit(docs, as_json, "\n".join(_case_line(doc) for doc in docs) or "no cases")


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
        _fail(exc.code, exc.message, as_json)
        return
    doc = case_detail(db.session, case)
    _emit(doc, as_json, _detail_text(doc))


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
        case = assign(db.session, case.id, liaison_email, actor=Actor.cli())
    except DomainError as exc:
        _fail(exc.code, exc.message, as_json)
        return
    _emit(
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
        _fail(exc.code, exc.message, as_json)
        return
    _emit(
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
        _fail(exc.code, exc.message, as_json)
        return
    _emit({"id": case.id, "note_id": note.id}, as_json, f"{case.number}: note #{note.id} added")


COMMANDS = (case_group,)
