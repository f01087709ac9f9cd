"""The `moderation case` commands: open, add, list, show, assign, status, note, export, and
hold extend/release (moderation/cli/evidence.py has `evidence`, `retention` and `police`).
Thin: parse, call the service, print; `--json` prints one JSON document for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from models import CaseStatus, CaseType, CaseUrgency
from moderation.cases.actor import Actor
from moderation.cli.evidence import evidence_group, police_group, retention_group
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
    _emit(docs, as_json, "\n".join(lines) or "no escalated reports")


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


def _signer() -> Any:
    from moderation.cases.signing import EvidenceSigner

    return EvidenceSigner.from_config(current_app.config)


def _write_private(path: str, data: bytes) -> None:
    """Write the package readable by its owner only (it holds originals), atomically."""
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".evidence-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@case_group.command("export")
@click.argument("case_id")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option(
    "--encrypt",
    is_flag=True,
    help="Wrap it in an AES-256 ZIP under a new passphrase, printed once: give it by phone.",
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def case_export(case_id: str, out: str, encrypt: bool, as_json: bool) -> None:
    """Write the signed evidence package (a ZIP holding a BagIt bag) of case CASE_ID to OUT.
    The file holds the original media: keep it encrypted at rest and hand it over in person or
    over an encrypted channel."""
    from moderation.cases.evidence import export_case
    from moderation.cases.service import find_case
    from moderation.cases.summary import render_summary
    from moderation.media.store import media_store_for

    try:
        case = find_case(db.session, case_id, Actor.cli())
        package = export_case(
            db.session,
            media_store_for(current_app.config),
            case.id,
            actor=Actor.cli(),
            settings=_settings(),
            signer=_signer(),
            render_summary=render_summary,
            encrypt=encrypt,
        )
    except DomainError as exc:
        _fail(exc.code, exc.message, as_json)
        return
    try:
        _write_private(out, package.data)
    except OSError as exc:
        _fail("write_failed", f"cannot write {out}: {exc.strerror}", as_json)
        return
    doc = {
        "id": case.id,
        "number": package.number,
        "out": out,
        "sha256": package.sha256,
        "bytes": len(package.data),
        "report_ids": package.report_ids,
        "media_ids": package.media_ids,
        "missing_media_ids": package.missing_media_ids,
        "key_fingerprint": package.key_fingerprint,
    }
    text = f"wrote {out} ({len(package.data)} bytes), SHA-256 {package.sha256}"
    if package.passphrase:
        doc["signed_sha256"] = package.signed_sha256
        doc["passphrase"] = package.passphrase
        text += f"\npassphrase (shown only now; give it by another channel): {package.passphrase}"
    if package.missing_media_ids:
        text += f"; {len(package.missing_media_ids)} medium(s) not included (bytes gone)"
    _emit(doc, as_json, text)


@case_group.group("hold", help="Preservation holds on a case's media.")
def hold_group() -> None:
    pass


def _hold_scope(target: str, report: bool) -> Any:
    """The scope of `case hold` commands: a case (id or number), or with --report a report's
    own escalation holds."""
    from moderation.cases.holds import HoldScope
    from moderation.cases.service import find_case

    if report:
        if not target.isdigit():
            raise click.BadParameter("with --report, give a report id")
        return HoldScope(report_id=int(target)), f"report #{target}"
    case = find_case(db.session, target, Actor.cli())
    return HoldScope(case_id=case.id), case.number


@hold_group.command("extend")
@click.argument("target")
@click.option("--days", required=True, type=int, help="Keep the media at least this long.")
@click.option("--report", is_flag=True, help="TARGET is a report: its escalation holds.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def hold_extend(target: str, days: int, report: bool, as_json: bool) -> None:
    """Extend every hold of case TARGET (id or number) to at least DAYS from now."""
    from moderation.cases.holds import extend_holds

    try:
        scope, name = _hold_scope(target, report)
        holds = extend_holds(db.session, scope, days, actor=Actor.cli())
    except DomainError as exc:
        _fail(exc.code, exc.message, as_json)
        return
    until = max(hold.expires_at for hold in holds).isoformat()
    _emit(
        {"target": name, "holds": len(holds), "expires_at": until},
        as_json,
        f"{name}: {len(holds)} hold(s) until {until}",
    )


@hold_group.command("release")
@click.argument("target")
@click.option("--reason", required=True, help="Why the media may now be deleted.")
@click.option("--report", is_flag=True, help="TARGET is a report: its escalation holds.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def hold_release(target: str, reason: str, report: bool, as_json: bool) -> None:
    """Release every hold of case TARGET (retention may then delete its media)."""
    from moderation.cases.holds import release_holds

    try:
        scope, name = _hold_scope(target, report)
        holds = release_holds(db.session, scope, reason, actor=Actor.cli())
    except DomainError as exc:
        _fail(exc.code, exc.message, as_json)
        return
    _emit(
        {"target": name, "released": len(holds)},
        as_json,
        f"{name}: released {len(holds)} hold(s)",
    )


COMMANDS = (case_group, evidence_group, retention_group, police_group)
