"""The `moderation evidence` (verify, key, new-key), `moderation retention run` and
`moderation police` commands. Thin: parse, call the service, print; `--json` prints one JSON
document for scripts."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask.cli import with_appcontext

from moderation.cases.actor import Actor
from moderation.cli.output import emit, fail, fail_with
from moderation.cli.wiring import case_settings, evidence_signer, media_store
from moderation.core.db import db
from moderation.core.errors import DomainError


@click.group("evidence", help="Evidence packages: verify them, show the signing key.")
def evidence_group() -> None:
    pass


@evidence_group.command("verify")
@click.argument("path", type=click.Path(exists=True))
@click.option(
    "--passphrase-stdin", is_flag=True, help="PATH is encrypted: read its passphrase from stdin."
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def evidence_verify(path: str, passphrase_stdin: bool, as_json: bool) -> None:
    """Check the package at PATH (the ZIP, or a folder it was extracted to): every file against
    the bag's manifests and the signature; exit 1 naming each changed file. An encrypted
    package is opened in memory with --passphrase-stdin."""
    import io
    from pathlib import Path

    from moderation.cases import transport
    from moderation.cases.bag import verify_directory, verify_zip

    known = evidence_signer().known_fingerprints()
    target = Path(path)
    if target.is_dir():
        verdict = verify_directory(target, known)
    elif transport.is_encrypted(str(target)):
        if not passphrase_stdin:
            fail("encrypted", "this package is encrypted: use --passphrase-stdin", as_json)
        try:
            inner = transport.decrypt(str(target), sys.stdin.readline())
        except transport.TransportError as exc:
            fail("bad_passphrase", str(exc), as_json)
        verdict = verify_zip(io.BytesIO(inner), known)
    else:
        verdict = verify_zip(target, known)
    doc = verdict.to_dict()
    if verdict.ok:
        whose = {"current": "this instance's key", "retired": "a retired key of this instance"}
        signer = whose.get(verdict.key or "", "a key that is NOT this instance's")
        text = f"ok: {verdict.number}, {verdict.files} files intact, signed by {signer}"
        text += f" ({verdict.fingerprint})"
    else:
        text = "\n".join(f"CHANGED {path}: {what}" for path, what in verdict.problems)
    emit(doc, as_json, text)
    if not verdict.ok:
        sys.exit(1)


@evidence_group.command("key")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def evidence_key(as_json: bool) -> None:
    """Show the public key packages are signed with, its fingerprint, and retired keys."""
    from moderation.cases.signing import fingerprint, public_key_pem

    signer = evidence_signer()
    pem = public_key_pem(signer.public_key).decode()
    doc = {
        "fingerprint": signer.fingerprint,
        "public_key_pem": pem,
        "retired_fingerprints": [fingerprint(key) for key in signer.retired],
    }
    emit(doc, as_json, f"{pem}fingerprint: {signer.fingerprint}")


@evidence_group.command("new-key")
def evidence_new_key() -> None:
    """Print a fresh EVIDENCE_SIGNING_KEY value. To rotate, list the current public key (see
    `moderation evidence key`) in EVIDENCE_RETIRED_PUBLIC_KEYS, then set this as
    MODERATION_EVIDENCE_SIGNING_KEY and restart."""
    from moderation.cases.signing import new_signing_key

    click.echo(new_signing_key())


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

    run = run_retention(
        db.session,
        media_store(),
        case_settings(),
        dry_run=dry_run,
        limit=limit,
        actor=Actor.cli(),
    )
    verb = "would shred" if dry_run else "shredded"
    text = f"{verb} {len(run.shredded)} medium(s); {run.held} due but held or in an open case"
    if run.kept_shared:
        text += f"; {len(run.kept_shared)} kept (the same bytes are still needed elsewhere)"
    emit(run.to_dict(), as_json, text)


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
        fail_with(exc, as_json)
    emit(request_dict(request), as_json, f"logged police request #{request.id}")


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
        fail_with(exc, as_json)
    doc = request_dict(request)
    emit(doc, as_json, f"request #{request.id} answered after {doc['hours_to_answer']} h")


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
        fail_with(exc, as_json)
    emit(request_dict(request), as_json, f"request #{request.id} closed")


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
    emit(docs, as_json, "\n".join(lines) or "no police requests")


@police_group.command("figures")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def police_figures(as_json: bool) -> None:
    """Open and overdue requests, and the median time to answer over 30 days."""
    from moderation.cases.police import figures

    result = figures(db.session)
    median = result.median_hours_to_answer
    emit(
        result.to_dict(),
        as_json,
        f"{result.open} open, {result.overdue} overdue; median time to answer over "
        f"{result.window_days} days: {'-' if median is None else f'{median} h'} "
        f"({result.answered} answered)",
    )
