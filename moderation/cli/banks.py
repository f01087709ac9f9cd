"""The `moderation bank` commands: create, list, import, export, entry status, reindex."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from models import ActionHint, BankKind, EntryStatus
from moderation.banks.formats import FORMATS, FormatError, detect_format
from moderation.cli.output import emit, fail, fail_with
from moderation.core.db import db
from moderation.core.errors import DomainError


@click.group("bank", help="Hash banks (PDQ, MD5, SHA-256, video).")
def bank_group() -> None:
    pass


@bank_group.command("create")
@click.argument("name")
@click.option(
    "--kind", default=BankKind.OTHER.value, type=click.Choice([k.value for k in BankKind])
)
@click.option(
    "--threshold", "pdq_threshold", default=31, type=click.IntRange(0, 31), help="PDQ distance."
)
@click.option(
    "--action-hint",
    default=ActionHint.RAISE_PRIORITY.value,
    type=click.Choice([h.value for h in ActionHint]),
)
@click.option("--description", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def bank_create(
    name: str,
    kind: str,
    pdq_threshold: int,
    action_hint: str,
    description: str | None,
    as_json: bool,
) -> None:
    """Create a bank named NAME."""
    from moderation.banks.service import bank_dict, create_bank

    try:
        bank = create_bank(
            db.session,
            name,
            kind=kind,
            pdq_threshold=pdq_threshold,
            action_hint=action_hint,
            description=description,
            actor_kind="cli",
        )
    except DomainError as exc:
        fail_with(exc, as_json)
    emit(bank_dict(bank), as_json, f"created bank #{bank.id} {bank.name}")


@bank_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@with_appcontext
def bank_list(as_json: bool) -> None:
    """List banks with their entry counts by status."""
    from moderation.banks.service import list_banks

    summaries = list_banks(db.session)
    lines = [
        f"#{s.bank.id}\t{s.bank.name}\t{s.bank.kind}\tthreshold={s.bank.pdq_threshold}\t"
        f"{'enabled' if s.bank.enabled else 'disabled'}\tactive={s.active}"
        for s in summaries
    ]
    emit([s.to_dict() for s in summaries], as_json, "\n".join(lines) or "no banks")


@bank_group.command("import")
@click.argument("bank")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default=None, help="Default: by file name."
)
@click.option(
    "--strict", is_flag=True, help="Check every line first; import nothing if one is bad."
)
@click.option("--source", default=None, help="Source recorded on entries that name none.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary.")
@with_appcontext
def bank_import(
    bank: str, path: Path, fmt: str | None, strict: bool, source: str | None, as_json: bool
) -> None:
    """Import PATH into BANK (id or name), streaming, with a progress bar on standard error."""
    from tqdm import tqdm

    from moderation.banks.import_export import import_file
    from moderation.banks.service import get_bank

    fmt = fmt or detect_format(path)
    size = path.stat().st_size * (2 if strict else 1)
    # tqdm turns itself off when standard error is not a terminal (scripts, tests).
    with tqdm(total=size, unit="B", unit_scale=True, file=sys.stderr, disable=None) as bar:
        try:
            bank_id = get_bank(db.session, bank).id
            summary = import_file(
                db.session,
                bank_id,
                path,
                fmt,
                strict=strict,
                source=source or path.name,
                actor_kind="cli",
                on_bytes=bar.update,
            )
        except DomainError as exc:
            fail_with(exc, as_json)
        except FormatError as exc:
            fail("invalid_import", str(exc), as_json)
    text = f"{summary.records} record(s), {summary.created} new, {summary.invalid} bad line(s)"
    if summary.bad_lines:
        shown = ", ".join(str(line) for line, _ in summary.bad_lines[:20])
        text += f"; bad at line(s) {shown}"
    emit(summary.to_dict(), as_json, text)


@bank_group.command("export")
@click.argument("bank")
@click.argument("output", default="-")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default=None, help="Default: by file name."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON summary (stderr if OUTPUT is -)."
)
@with_appcontext
def bank_export(bank: str, output: str, fmt: str | None, as_json: bool) -> None:
    """Write BANK's entries to OUTPUT (default: standard output). Plain lists hold active
    entries only; CSV and StopNCII JSON keep every entry with its status."""
    from moderation.banks.import_export import export_file
    from moderation.banks.service import get_bank

    to_stdout = output == "-"
    fmt = fmt or ("plain" if to_stdout else detect_format(Path(output)))
    try:
        bank_id = get_bank(db.session, bank).id
        if to_stdout:
            written = export_file(db.session, bank_id, sys.stdout, fmt, actor_kind="cli")
        else:
            with open(output, "w", encoding="utf-8", newline="") as handle:
                written = export_file(db.session, bank_id, handle, fmt, actor_kind="cli")
    except DomainError as exc:
        fail_with(exc, as_json)
    summary = {"bank_id": bank_id, "format": fmt, "entries": written, "output": output}
    emit(summary, as_json, f"exported {written} entr{'y' if written == 1 else 'ies'}", to_stdout)


@bank_group.command("policies")
@click.argument("bank")
@click.argument("policies", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def bank_policies(bank: str, policies: tuple[str, ...], as_json: bool) -> None:
    """Set which final removals (e.g. remove.ncii remove.synthetic_sexual) add their media's
    hashes to BANK; none stops automatic banking into it."""
    from moderation.banks.service import set_decision_policies

    try:
        row = set_decision_policies(
            db.session, bank, list(policies), actor_user_id=None, actor_kind="cli"
        )
    except DomainError as exc:
        fail_with(exc, as_json)
    summary = {"bank_id": row.id, "decision_policies": row.decision_policies}
    emit(summary, as_json, f"{row.name}: {', '.join(row.decision_policies) or 'none'}")


@bank_group.command("entry-status")
@click.argument("entry_id", type=int)
@click.argument("status", type=click.Choice([s.value for s in EntryStatus]))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def bank_entry_status(entry_id: int, status: str, as_json: bool) -> None:
    """Set one entry's STATUS (withdrawn, disabled, ... stop matching at once)."""
    from moderation.banks.service import set_entry_status

    try:
        entry = set_entry_status(db.session, entry_id, status, actor_user_id=None, actor_kind="cli")
    except DomainError as exc:
        fail_with(exc, as_json)
    emit(
        {"id": entry.id, "status": str(entry.status)}, as_json, f"entry #{entry.id}: {entry.status}"
    )


@bank_group.command("reindex")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def bank_reindex(as_json: bool) -> None:
    """Rebuild the PDQ index from the database (running processes switch on their refresh)."""
    from moderation.settings import settings_for

    stats = settings_for(current_app).bank_index_handle().rebuild(db.session)
    emit(stats, as_json, f"indexed {stats['entries']} PDQ entries (version {stats['version']})")
