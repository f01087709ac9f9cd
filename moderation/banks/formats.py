"""Hash-bank file formats, read as streams: plain `<type> <hash>` lines, CSV
(`signal_type,signal_str,...`) and StopNCII JSON records (an array, JSON Lines, or a
FetchHashes response with `hashRecords`). Nothing here holds a whole file in memory; writing
the same formats is moderation/banks/format_writers.py."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson

from models.bank import EntryStatus, SignalType
from moderation.media.video import FrameHash

FORMATS = ("plain", "csv", "stopncii")
CSV_COLUMNS = ("signal_type", "signal_str", "status", "source", "note", "external_id", "added_at")
# A video entry is at most this many frame hashes (two hours at one frame per second).
MAX_VIDEO_FRAMES = 7200
_CSV_FIELD_LIMIT = 16 * 1024 * 1024
_HEX = frozenset("0123456789abcdef")

_TYPE_ALIASES = {
    "pdq": SignalType.PDQ,
    "imagepdq": SignalType.PDQ,
    "photo_pdq": SignalType.PDQ,
    "md5": SignalType.MD5,
    "videomd5": SignalType.MD5,
    "video_md5": SignalType.MD5,
    "sha256": SignalType.SHA256,
    "sha-256": SignalType.SHA256,
    "video": SignalType.VIDEO,
    "videopdq": SignalType.VIDEO,
    "video_pdq": SignalType.VIDEO,
    "vpdq": SignalType.VIDEO,
}
_HEX_LENGTH = {SignalType.PDQ: 64, SignalType.MD5: 32, SignalType.SHA256: 64}
STOPNCII_TYPE = {
    SignalType.PDQ: "ImagePDQ",
    SignalType.MD5: "MD5",
    SignalType.SHA256: "SHA256",
    SignalType.VIDEO: "VideoPDQ",
}


class FormatError(ValueError):
    """A value or file that is not in the format it claims. Messages never quote the input."""


@dataclass(frozen=True)
class BankRecord:
    """One parsed hash. `status` is None when the format does not say (plain lines, CSV
    without a status column): an import then leaves an existing entry's state alone."""

    line: int
    signal_type: SignalType
    value: str
    video_frames: list[dict[str, Any]] | None = None
    status: EntryStatus | None = None
    source: str | None = None
    note: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class BadRecord:
    """A line (or, in a JSON array, a record) that was skipped, and why. No content."""

    line: int
    reason: str


def signal_type_of(text: str) -> SignalType:
    """Our signal type for a name used by us, CSV exports or StopNCII; FormatError if unknown."""
    try:
        return _TYPE_ALIASES[text.strip().lower()]
    except KeyError:
        raise FormatError("unsupported signal type") from None


def normalise_signal(
    signal_type: SignalType, raw: str | list[Any]
) -> tuple[str, list[dict[str, Any]] | None]:
    """(signal_value, video_frames) in canonical form: lower-case hex of the right length; for
    video, the frame list (JSON text or list) and the SHA-256 of its canonical JSON.

    Raises FormatError for anything malformed.
    """
    if signal_type is SignalType.VIDEO:
        frames = _video_frames(raw)
        canonical = json.dumps(frames, separators=(",", ":"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest(), frames
    if not isinstance(raw, str):
        raise FormatError("the hash is not text")
    value = raw.strip().lower()
    if len(value) != _HEX_LENGTH[signal_type] or not _HEX.issuperset(value):
        raise FormatError(f"a {signal_type} hash is {_HEX_LENGTH[signal_type]} hex digits")
    return value, None


def _video_frames(raw: str | list[Any]) -> list[dict[str, Any]]:
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items or len(items) > MAX_VIDEO_FRAMES:
            raise FormatError(f"video hashes are a list of 1 to {MAX_VIDEO_FRAMES} frames")
        return [FrameHash.from_dict(item).to_dict() for item in items]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        if isinstance(error, FormatError):
            raise
        raise FormatError("video hashes are not a valid frame list") from error


def status_of(text: str | None) -> EntryStatus | None:
    """An entry status from `Active`, `withdrawn`, ...; None for empty; FormatError otherwise."""
    if text is None or not str(text).strip():
        return None
    try:
        return EntryStatus(str(text).strip().lower())
    except ValueError:
        raise FormatError("unknown status") from None


def detect_format(path: Path) -> str:
    """The format a file name suggests: .csv, .json/.jsonl/.ndjson, else plain lines."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".json", ".jsonl", ".ndjson"):
        return "stopncii"
    return "plain"


class ProgressReader(io.RawIOBase):
    """Wraps a binary file and reports each chunk's size (for a progress bar by bytes)."""

    def __init__(self, raw: IO[bytes], on_bytes: Callable[[int], Any] | None = None) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        if count and self._on_bytes is not None:
            self._on_bytes(count)
        return count


def read_records(
    binary: IO[bytes], fmt: str, on_bytes: Callable[[int], Any] | None = None
) -> Iterator[BankRecord | BadRecord]:
    """Parse `binary` as `fmt` one record at a time. Bad lines come out as BadRecord; a JSON
    document broken beyond one line raises FormatError."""
    if fmt not in FORMATS:
        raise FormatError("unknown format")
    stream = io.BufferedReader(ProgressReader(binary, on_bytes), buffer_size=1 << 16)
    if fmt == "stopncii":
        yield from _read_stopncii(stream)
        return
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    try:
        yield from (_read_plain(text) if fmt == "plain" else _read_csv(text))
    except UnicodeDecodeError as error:
        raise FormatError("the file is not UTF-8 text") from error


def _read_plain(text: IO[str]) -> Iterator[BankRecord | BadRecord]:
    for number, line in enumerate(text, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 1)
        if len(parts) != 2:
            yield BadRecord(number, "expected '<type> <hash>'")
            continue
        yield _record(number, parts[0], parts[1])


def _read_csv(text: IO[str]) -> Iterator[BankRecord | BadRecord]:
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    reader = csv.reader(text)
    columns: tuple[str, ...] = CSV_COLUMNS
    first = True
    for row in reader:
        number = reader.line_num
        if first:
            first = False
            if row and row[0].strip().lower() == "signal_type":
                columns = tuple(name.strip().lower() for name in row)
                continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        fields = dict(zip(columns, row, strict=False))
        if not fields.get("signal_type") or not fields.get("signal_str"):
            yield BadRecord(number, "missing signal_type or signal_str")
            continue
        yield _record(
            number,
            fields["signal_type"],
            fields["signal_str"],
            status=fields.get("status"),
            source=fields.get("source"),
            note=fields.get("note"),
            external_id=fields.get("external_id"),
        )


def _read_stopncii(stream: io.BufferedReader) -> Iterator[BankRecord | BadRecord]:
    head = stream.peek(64).lstrip()
    if head.startswith(b"["):
        yield from _stopncii_items(stream, "item")
        return
    first_line = stream.readline()
    try:
        first = json.loads(first_line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        first = None
    if isinstance(first, dict) and "hashValue" in first:
        # JSON Lines: one record per line, each line on its own.
        yield _stopncii_record(1, first)
        for number, line in enumerate(stream, start=2):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                yield BadRecord(number, "not a JSON object")
                continue
            yield _stopncii_record(number, record)
        return
    # A FetchHashes response: {"count": ..., "hashRecords": [...]}.
    yield from _stopncii_items(_Prefixed(first_line, stream), "hashRecords.item")


def _stopncii_items(stream: IO[bytes], prefix: str) -> Iterator[BankRecord | BadRecord]:
    number = 0
    try:
        for number, record in enumerate(ijson.items(stream, prefix, use_float=True), start=1):
            yield _stopncii_record(number, record)
    except ijson.JSONError as error:
        raise FormatError(f"the JSON is malformed after record {number}") from error


def _stopncii_record(number: int, record: Any) -> BankRecord | BadRecord:
    if not isinstance(record, dict):
        return BadRecord(number, "not a JSON object")
    if "signalType" not in record or "hashValue" not in record:
        return BadRecord(number, "missing signalType or hashValue")
    status = record.get("hashStatus")
    return _record(
        number,
        str(record["signalType"]),
        record["hashValue"],
        status="active" if status is None else str(status),
        source=record.get("source"),
        note=record.get("note"),
        external_id=record.get("externalId"),
    )


def _record(
    number: int,
    type_text: str,
    raw_value: Any,
    *,
    status: str | None = None,
    source: Any = None,
    note: Any = None,
    external_id: Any = None,
) -> BankRecord | BadRecord:
    try:
        signal_type = signal_type_of(type_text)
        value, frames = normalise_signal(signal_type, raw_value)
        parsed_status = status_of(status)
    except FormatError as error:
        return BadRecord(number, str(error))
    return BankRecord(
        number,
        signal_type,
        value,
        frames,
        parsed_status,
        _short(source, 200),
        _short(note, 2000),
        _short(external_id, 200),
    )


def _short(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] or None


class _Prefixed(io.RawIOBase):
    """Bytes already read, then the rest of a stream (so a sniffed line is not lost)."""

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            chunk = self._prefix[: len(buffer)]
            self._prefix = self._prefix[len(chunk) :]
        else:
            chunk = self._rest.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)
