"""`moderation case export` (the signed evidence package) and `moderation case hold` (the
preservation holds on a case's media): what a case keeps, and hands over."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import click
from flask.cli import with_appcontext

from moderation.cases.actor import Actor
from moderation.cli.output import emit, fail, fail_with
from moderation.cli.wiring import case_settings, evidence_signer, media_store, render_summary
from moderation.core.db import db
from moderation.core.errors import DomainError


def _write_private(path: str, data: bytes) -> None:
    """Write the package readable by its owner only (it holds originals), atomically."""
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


@click.command("export")
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

    try:
        case = find_case(db.session, case_id, Actor.cli())
        package = export_case(
            db.session,
            media_store(),
            case.id,
            actor=Actor.cli(),
            settings=case_settings(),
            signer=evidence_signer(),
            render_summary=render_summary(),
            encrypt=encrypt,
        )
    except DomainError as exc:
        fail_with(exc, as_json)
    try:
        _write_private(out, package.data)
    except OSError as exc:
        fail("write_failed", f"cannot write {out}: {exc.strerror}", as_json)
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
    emit(doc, as_json, text)


@click.group("hold", help="Preservation holds on a case's media.")
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
        fail_with(exc, as_json)
    until = max(hold.expires_at for hold in holds).isoformat()
    emit(
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
        fail_with(exc, as_json)
    emit(
        {"target": name, "released": len(holds)},
        as_json,
        f"{name}: released {len(holds)} hold(s)",
    )
