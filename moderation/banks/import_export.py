"""Streaming import and export of bank entries (see moderation/banks/formats.py for formats).

Imports read one record at a time and upsert in batches, committing each batch, so a file of
millions of lines never sits in memory and a re-run after an interruption is harmless. A record
that carries a status (StopNCII's hashStatus, a CSV status column) updates an existing entry:
a hash StopNCII now lists as Withdrawn or Deleted stops matching. Records without one leave an
existing entry as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from models import BankEntry, EntryStatus, utcnow
from moderation.audit import events as audit
from moderation.banks.format_writers import ExportRow, write_records
from moderation.banks.formats import (
    BadRecord,
    BankRecord,
    FormatError,
    read_records,
)
from moderation.banks.index import lock_entry_writes
from moderation.banks.service import get_bank
from moderation.core.errors import ValidationError
from moderation.core.locks import insert_for

BATCH_SIZE = 5000
# Bad lines listed in a summary (all are counted).
MAX_REPORTED_BAD = 100
_KEY = ("bank_id", "signal_type", "signal_value")


@dataclass
class ImportSummary:
    bank_id: int
    format: str
    records: int = 0
    created: int = 0
    invalid: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bank_id": self.bank_id,
            "format": self.format,
            "records": self.records,
            "created": self.created,
            "invalid": self.invalid,
            "bad_lines": [{"line": line, "reason": reason} for line, reason in self.bad_lines],
        }

    def note_bad(self, bad: BadRecord) -> None:
        self.invalid += 1
        if len(self.bad_lines) < MAX_REPORTED_BAD:
            self.bad_lines.append((bad.line, bad.reason))


def _statements(session: Session) -> tuple[Any, Any]:
    """(keep, update): insert-or-leave-alone for records without a status, and insert-or-
    update-status for records with one, where an admin's 'disabled' survives an upstream
    'active' and status_changed_at moves only when the status really changes."""
    table = BankEntry.__table__
    keep = insert_for(session, table).on_conflict_do_nothing(index_elements=list(_KEY))
    update = insert_for(session, table)
    incoming = update.excluded
    admin_hold = and_(table.c.status == EntryStatus.DISABLED, incoming.status == EntryStatus.ACTIVE)
    unchanged = (table.c.status == incoming.status) | admin_hold
    update = update.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={
            "status": case((admin_hold, table.c.status), else_=incoming.status),
            "status_changed_at": case(
                (unchanged, table.c.status_changed_at), else_=incoming.status_changed_at
            ),
            "external_id": func.coalesce(incoming.external_id, table.c.external_id),
        },
    )
    return keep, update


def _row(bank_id: int, record: BankRecord, source: str | None, user_id: int | None) -> dict:
    now = utcnow()
    return {
        "bank_id": bank_id,
        "signal_type": str(record.signal_type),
        "signal_value": record.value,
        "video_frames": record.video_frames,
        "source": record.source or source,
        "note": record.note,
        "external_id": record.external_id,
        "added_by_user_id": user_id,
        "added_at": now,
        "status": str(record.status or EntryStatus.ACTIVE),
        "status_changed_at": now,
    }


def _write_batch(session: Session, statements: tuple[Any, Any], batch: dict[tuple, tuple]) -> None:
    # One row per key per statement: PostgreSQL refuses to update a row twice in one command.
    keep = [row for has_status, row in batch.values() if not has_status]
    update = [row for has_status, row in batch.values() if has_status]
    lock_entry_writes(session)
    if keep:
        session.execute(statements[0], keep)
    if update:
        session.execute(statements[1], update)
    session.commit()


def import_records(
    session: Session,
    bank_id: int,
    records: Iterable[BankRecord | BadRecord],
    fmt: str,
    *,
    source: str | None = None,
    added_by_user_id: int | None = None,
    actor_kind: str = "user",
    batch_size: int = BATCH_SIZE,
) -> ImportSummary:
    """Upsert `records` into the bank in committed batches; bad records are counted and listed
    (line numbers and reasons only). Audits `bank.import`. Raises NotFoundError, FormatError."""
    bank = get_bank(session, bank_id)
    summary = ImportSummary(bank.id, fmt)
    count_query = select(func.count()).where(BankEntry.bank_id == bank.id)
    before = session.execute(count_query).scalar_one()
    statements = _statements(session)
    batch: dict[tuple, tuple] = {}
    for record in records:
        if isinstance(record, BadRecord):
            summary.note_bad(record)
            continue
        summary.records += 1
        key = (record.signal_type, record.value)
        batch[key] = (record.status is not None, _row(bank.id, record, source, added_by_user_id))
        if len(batch) >= batch_size:
            _write_batch(session, statements, batch)
            batch = {}
    if batch:
        _write_batch(session, statements, batch)
    summary.created = session.execute(count_query).scalar_one() - before
    audit.record(
        session,
        "bank.import",
        actor_user_id=added_by_user_id,
        actor_kind=actor_kind,
        object_type="bank",
        object_id=bank.id,
        details={
            "format": fmt,
            "records": summary.records,
            "created": summary.created,
            "invalid": summary.invalid,
        },
    )
    session.commit()
    return summary


def import_file(
    session: Session,
    bank_id: int,
    path: Path,
    fmt: str,
    *,
    strict: bool = False,
    source: str | None = None,
    added_by_user_id: int | None = None,
    actor_kind: str = "user",
    on_bytes: Callable[[int], Any] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportSummary:
    """Import a file as a stream. With `strict`, the file is first checked in full and nothing
    is written if any line is bad (ValidationError listing the first bad line numbers).
    Raises FormatError for a file that is not in `fmt` at all."""
    if strict:
        bad: list[BadRecord] = []
        with path.open("rb") as handle:
            for record in read_records(handle, fmt, on_bytes):
                if isinstance(record, BadRecord):
                    bad.append(record)
                    if len(bad) >= MAX_REPORTED_BAD:
                        break
        if bad:
            lines = ", ".join(str(record.line) for record in bad[:20])
            raise ValidationError(
                f"{len(bad)}{'+' if len(bad) >= MAX_REPORTED_BAD else ''} bad line(s), "
                f"nothing imported; first at line(s) {lines}",
                code="invalid_import",
            )
    with path.open("rb") as handle:
        return import_records(
            session,
            bank_id,
            read_records(handle, fmt, on_bytes),
            fmt,
            source=source,
            added_by_user_id=added_by_user_id,
            actor_kind=actor_kind,
            batch_size=batch_size,
        )


def _export_rows(session: Session, bank_id: int, batch_size: int) -> Iterator[ExportRow]:
    last_id = 0
    while True:
        rows = session.execute(
            select(
                BankEntry.id,
                BankEntry.signal_type,
                BankEntry.signal_value,
                BankEntry.video_frames,
                BankEntry.status,
                BankEntry.source,
                BankEntry.note,
                BankEntry.external_id,
                BankEntry.added_at,
            )
            .where(BankEntry.bank_id == bank_id, BankEntry.id > last_id)
            .order_by(BankEntry.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return
        last_id = rows[-1][0]
        for row in rows:
            yield ExportRow(str(row[1]), row[2], row[3], str(row[4]), *row[5:])


def export_file(
    session: Session,
    bank_id: int,
    out: IO[str],
    fmt: str,
    *,
    actor_user_id: int | None = None,
    actor_kind: str = "user",
    batch_size: int = BATCH_SIZE,
) -> int:
    """Write the bank's entries to `out` as `fmt` (plain: active entries only), streaming in
    id order; returns how many were written. Audits `bank.export`. Raises NotFoundError,
    FormatError for an unknown format."""
    bank = get_bank(session, bank_id)
    written = write_records(out, fmt, _export_rows(session, bank.id, batch_size))
    audit.record(
        session,
        "bank.export",
        actor_user_id=actor_user_id,
        actor_kind=actor_kind,
        object_type="bank",
        object_id=bank.id,
        details={"format": fmt, "entries": written},
    )
    session.commit()
    return written


__all__ = ["FormatError", "ImportSummary", "export_file", "import_file", "import_records"]
