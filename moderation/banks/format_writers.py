"""Writing bank entries in the formats moderation/banks/formats.py reads, as streams."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from models.bank import EntryStatus, SignalType
from moderation.banks.formats import CSV_COLUMNS, STOPNCII_TYPE, FormatError


@dataclass(frozen=True)
class ExportRow:
    signal_type: str
    signal_value: str
    video_frames: list[dict[str, Any]] | None
    status: str
    source: str | None
    note: str | None
    external_id: str | None
    added_at: datetime


def _signal_text(row: ExportRow) -> str:
    if row.video_frames is not None:
        return json.dumps(row.video_frames, separators=(",", ":"))
    return row.signal_value


def write_records(out: IO[str], fmt: str, rows: Iterable[ExportRow]) -> int:
    """Write `rows` as `fmt`; returns how many were written. Plain lines cannot carry a status,
    so they hold active entries only (a withdrawn hash must never come back as active)."""
    if fmt == "plain":
        return _write_plain(out, rows)
    if fmt == "csv":
        return _write_csv(out, rows)
    if fmt == "stopncii":
        return _write_stopncii(out, rows)
    raise FormatError("unknown format")


def _write_plain(out: IO[str], rows: Iterable[ExportRow]) -> int:
    written = 0
    for row in rows:
        if row.status == EntryStatus.ACTIVE:
            out.write(f"{row.signal_type} {_signal_text(row)}\n")
            written += 1
    return written


def _write_csv(out: IO[str], rows: Iterable[ExportRow]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    written = 0
    for row in rows:
        writer.writerow(
            [
                row.signal_type,
                _signal_text(row),
                row.status,
                row.source or "",
                row.note or "",
                row.external_id or "",
                row.added_at.isoformat(),
            ]
        )
        written += 1
    return written


def _write_stopncii(out: IO[str], rows: Iterable[ExportRow]) -> int:
    out.write("[")
    written = 0
    for row in rows:
        record: dict[str, Any] = {
            "signalType": STOPNCII_TYPE[SignalType(row.signal_type)],
            "hashValue": _signal_text(row),
            "hashStatus": str(row.status).capitalize(),
            "lastModtimestamp": int(row.added_at.timestamp()),
            "caseNumbers": {},
        }
        for key, value in (
            ("source", row.source),
            ("note", row.note),
            ("externalId", row.external_id),
        ):
            if value:
                record[key] = value
        out.write(("\n" if not written else ",\n") + json.dumps(record, ensure_ascii=False))
        written += 1
    out.write("\n]\n")
    return written
