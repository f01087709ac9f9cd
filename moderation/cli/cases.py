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
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def case_export(case_id: str, out: str, as_json: bool) -> None:
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
    if package.missing_media_ids:
        text += f"; {len(package.missing_media_ids)} medium(s) not included (bytes gone)"
    _emit(doc, as_json, text)


@click.group("evidence", help="Evidence packages: verify them, show the signing key.")
def evidence_group() -> None:
    pass


@evidence_group.command("verify")
@click.argument("path", type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def evidence_verify(path: str, as_json: bool) -> None:
    """Check the package at PATH (the ZIP, or a folder it was extracted to): every file against
    the bag's manifests and the signature; exit 1 naming each changed file."""
    from pathlib import Path

    from moderation.cases.bag import verify_directory, verify_zip

    known = _signer().known_fingerprints()
    target = Path(path)
    verdict = verify_directory(target, known) if target.is_dir() else verify_zip(target, known)
    doc = verdict.to_dict()
    if verdict.ok:
        whose = {"current": "this instance's key", "retired": "a retired key of this instance"}
        signer = whose.get(verdict.key or "", "a key that is NOT this instance's")
        text = f"ok: {verdict.number}, {verdict.files} files intact, signed by {signer}"
        text += f" ({verdict.fingerprint})"
    else:
        text = "\n".join(f"CHANGED {path}: {what}" for path, what in verdict.problems)
    _emit(doc, as_json, text)
    if not verdict.ok:
        sys.exit(1)


@evidence_group.command("key")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def evidence_key(as_json: bool) -> None:
    """Show the public key packages are signed with, its fingerprint, and retired keys."""
    from moderation.cases.signing import fingerprint, public_key_pem

    signer = _signer()
    pem = public_key_pem(signer.public_key).decode()
    doc = {
        "fingerprint": signer.fingerprint,
        "public_key_pem": pem,
        "retired_fingerprints": [fingerprint(key) for key in signer.retired],
    }
    _emit(doc, as_json, f"{pem}fingerprint: {signer.fingerprint}")


@evidence_group.command("new-key")
def evidence_new_key() -> None:
    """Print a fresh EVIDENCE_SIGNING_KEY value. To rotate, list the current public key (see
    `moderation evidence key`) in EVIDENCE_RETIRED_PUBLIC_KEYS, then set this as
    MODERATION_EVIDENCE_SIGNING_KEY and restart."""
    from moderation.cases.signing import new_signing_key

    click.echo(new_signing_key())


@case_group.group("hold", help="Preservation holds on a case's media.")
def hold_group() -> None:
    pass


@hold_group.command("extend")
@click.argument("case_id")
@click.option("--days", required=True, type=int, help="Keep the media at least this long.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def hold_extend(case_id: str, days: int, as_json: bool) -> None:
    """Extend every hold of case CASE_ID to at least DAYS from now."""
    from moderation.cases.holds import extend_case_holds
    from moderation.cases.service import find_case

    try:
        case = find_case(db.session, case_id, Actor.cli())
        holds = extend_case_holds(db.session, case.id, days, actor=Actor.cli())
    except DomainError as exc:
        _fail(exc.code, exc.message, as_json)
        return
    until = max(hold.expires_at for hold in holds).isoformat()
    _emit(
        {"id": case.id, "number": case.number, "holds": len(holds), "expires_at": until},
        as_json,
        f"{case.number}: {len(holds)} hold(s) until {until}",
    )


@hold_group.command("release")
@click.argument("case_id")
@click.option("--reason", required=True, help="Why the media may now be deleted.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def hold_release(case_id: str, reason: str, as_json: bool) -> None:
    """Release every hold of case CASE_ID (retention may then delete its media)."""
    from moderation.cases.holds import release_case_holds
    from moderation.cases.service import find_case

    try:
        case = find_case(db.session, case_id, Actor.cli())
        holds = release_case_holds(db.session, case.id, reason, actor=Actor.cli())
    except DomainError as exc:
        _fail(exc.code, exc.message, as_json)
        return
    _emit(
        {"id": case.id, "number": case.number, "released": len(holds)},
        as_json,
        f"{case.number}: released {len(holds)} hold(s)",
    )


@click.group("retention", help="Deleting originals past their retention period.")
def retention_group() -> None:
    pass


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Say what would be destroyed; destroy nothing.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def retention_run(dry_run: bool, limit: int, as_json: bool) -> None:
    """Crypto-shred unheld originals past RETENTION_DAYS for their outcome; report rows and
    hashes stay. One custody event per medium."""
    from moderation.cases.retention import run_retention
    from moderation.media.store import media_store_for

    run = run_retention(
        db.session,
        media_store_for(current_app.config),
        _settings(),
        dry_run=dry_run,
        limit=limit,
        actor=Actor.cli(),
    )
    verb = "would shred" if dry_run else "shredded"
    text = f"{verb} {len(run.shredded)} medium(s); {run.held} due but held or in an open case"
    if run.kept_shared:
        text += f"; {len(run.kept_shared)} kept (the same bytes are still needed elsewhere)"
    _emit(run.to_dict(), as_json, text)


class _Timestamp(click.ParamType):
    """An ISO 8601 time with a zone ("2026-12-01T09:30:00+09:00", or Z for UTC)."""

    name = "time"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from datetime import datetime

        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time", param, ctx)
        if parsed.tzinfo is None:
            self.fail("give the time zone (e.g. +09:00, or Z for UTC)", param, ctx)
        return parsed


TIME = _Timestamp()


@click.group("police", help="Requests from law enforcement, on the clock.")
def police_group() -> None:
    pass


@police_group.command("log")
@click.option("--agency", required=True)
@click.option("--received-at", required=True, type=TIME, help="When it arrived (ISO 8601).")
@click.option("--due-at", default=None, type=TIME, help="When they need the answer.")
@click.option("--officer", default=None)
@click.option("--reference", "their_reference", default=None, help="Their reference.")
@click.option("--legal-basis", default=None)
@click.option("--case", "case_id", default=None, help="The case it concerns (id or number).")
@click.option("--note", default=None)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def police_log(
    agency: str,
    received_at: Any,
    due_at: Any,
    officer: str | None,
    their_reference: str | None,
    legal_basis: str | None,
    case_id: str | None,
    note: str | None,
    as_json: bool,
) -> None:
    """Log a request received from law enforcement."""
    from moderation.cases.police import log_request, request_dict
    from moderation.cases.service import find_case

    try:
        case = find_case(db.session, case_id, Actor.cli()) if case_id else None
        request = log_request(
            db.session,
            agency=agency,
            received_at=received_at,
            due_at=due_at,
            officer=officer,
            their_reference=their_reference,
            legal_basis=legal_basis,
            case_id=case.id if case else None,
            note=note,
            actor=Actor.cli(),
        )
    except DomainError as exc:
        _fail(exc.code, exc.message, as_json)
        return
    _emit(request_dict(request), as_json, f"logged police request #{request.id}")


@police_group.command("answer")
@click.argument("request_id", type=int)
@click.option("--at", "answered_at", default=None, type=TIME, help="Default: now.")
@click.option("--note", default=None)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def police_answer(request_id: int, answered_at: Any, note: str | None, as_json: bool) -> None:
    """Record that request REQUEST_ID was answered."""
    from moderation.cases.police import answer, request_dict

    try:
        request = answer(
            db.session, request_id, actor=Actor.cli(), answered_at=answered_at, note=note
        )
    except DomainError as exc:
        _fail(exc.code, exc.message, as_json)
        return
    doc = request_dict(request)
    _emit(doc, as_json, f"request #{request.id} answered after {doc['hours_to_answer']} h")


@police_group.command("close")
@click.argument("request_id", type=int)
@click.option("--reason", required=True, help="Withdrawn, refused (no legal basis), ...")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def police_close(request_id: int, reason: str, as_json: bool) -> None:
    """Close request REQUEST_ID without an answer."""
    from moderation.cases.police import close, request_dict

    try:
        request = close(db.session, request_id, reason, actor=Actor.cli())
    except DomainError as exc:
        _fail(exc.code, exc.message, as_json)
        return
    _emit(request_dict(request), as_json, f"request #{request.id} closed")


@police_group.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only requests not yet answered.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def police_list(open_only: bool, as_json: bool) -> None:
    """List requests: open ones soonest due first."""
    from moderation.cases.police import list_requests, request_dict

    docs = [request_dict(r) for r in list_requests(db.session, open_only=open_only)]
    lines = [
        f"#{d['id']}\t{d['status']}{' OVERDUE' if d['overdue'] else ''}\t{d['agency']}\t"
        f"received {d['received_at']}\tdue {d['due_at'] or '-'}"
        for d in docs
    ]
    _emit(docs, as_json, "\n".join(lines) or "no police requests")


@police_group.command("figures")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def police_figures(as_json: bool) -> None:
    """Open and overdue requests, and the median time to answer over 30 days."""
    from moderation.cases.police import figures

    result = figures(db.session)
    median = result.median_hours_to_answer
    _emit(
        result.to_dict(),
        as_json,
        f"{result.open} open, {result.overdue} overdue; median time to answer over "
        f"{result.window_days} days: {'-' if median is None else f'{median} h'} "
        f"({result.answered} answered)",
    )


COMMANDS = (case_group, evidence_group, retention_group, police_group)
