"""Bank file formats: parsing (plain, CSV, StopNCII array/JSON Lines/FetchHashes), bad lines,
export -> import round trips for all three, and flat memory on a large streamed import."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from models import BankEntry, EntryStatus, SignalType
from moderation.banks.formats import BadRecord, BankRecord, FormatError, read_records
from moderation.banks.import_export import export_file, import_file
from moderation.banks.service import create_bank

PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ_B = "0" * 63 + "1"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
FRAMES = [
    {"frame": 0, "quality": 90, "pdq": PDQ_A, "timestamp": 0.0},
    {"frame": 24, "quality": 88, "pdq": PDQ_B, "timestamp": 1.0},
]


def parse(text: str, fmt: str) -> list[BankRecord | BadRecord]:
    return list(read_records(io.BytesIO(text.encode()), fmt))


def test_plain_lines_are_normalised_and_bad_lines_reported_without_content():
    text = f"# comment\npdq {PDQ_A.upper()}\n\nmd5 {MD5}\nsha256 nothex\npdq\nbogus {MD5}\n"
    records = parse(text, "plain")
    good = [r for r in records if isinstance(r, BankRecord)]
    bad = [r for r in records if isinstance(r, BadRecord)]
    assert [(r.signal_type, r.value) for r in good] == [
        (SignalType.PDQ, PDQ_A),
        (SignalType.MD5, MD5),
    ]
    assert [r.line for r in bad] == [5, 6, 7]
    assert all("nothex" not in r.reason for r in bad)
    assert good[0].status is None  # plain lines never say withdrawn or active


def test_csv_with_and_without_header():
    with_header = f"signal_type,signal_str,status,note\npdq,{PDQ_A},Withdrawn,x\nmd5,{MD5},,\n"
    records = parse(with_header, "csv")
    assert records[0].status is EntryStatus.WITHDRAWN and records[0].note == "x"
    assert records[1].status is None
    positional = parse(f"sha256,{SHA256}\nnope,abc\n", "csv")
    assert positional[0].value == SHA256 and isinstance(positional[1], BadRecord)
    assert positional[1].line == 2


def test_stopncii_array_jsonlines_and_fetch_response():
    records = [
        {"signalType": "ImagePDQ", "hashValue": PDQ_A, "hashStatus": "Active"},
        {"signalType": "VideoMD5", "hashValue": MD5, "hashStatus": "Withdrawn"},
        {"signalType": "ImagePDQ", "hashValue": PDQ_B, "hashStatus": "Deleted"},
    ]
    as_array = parse(json.dumps(records), "stopncii")
    as_lines = parse("\n".join(json.dumps(r) for r in records) + "\nnot json\n", "stopncii")
    as_response = parse(json.dumps({"count": 3, "hashRecords": records}), "stopncii")
    expected = [EntryStatus.ACTIVE, EntryStatus.WITHDRAWN, EntryStatus.DELETED]
    for parsed in (as_array, as_response, as_lines[:3]):
        assert [r.status for r in parsed] == expected
        assert [r.signal_type for r in parsed] == [SignalType.PDQ, SignalType.MD5, SignalType.PDQ]
    assert isinstance(as_lines[3], BadRecord) and as_lines[3].line == 4


def test_stopncii_unknown_status_and_type_are_bad_records_and_broken_json_is_an_error():
    records = parse(
        json.dumps(
            [
                {"signalType": "ImagePDQ", "hashValue": PDQ_A, "hashStatus": "Unknown"},
                {"signalType": "Text", "hashValue": "hello"},
                {"hashValue": PDQ_A},
            ]
        ),
        "stopncii",
    )
    assert all(isinstance(r, BadRecord) for r in records) and [r.line for r in records] == [1, 2, 3]
    with pytest.raises(FormatError):
        parse('[{"signalType": "ImagePDQ", "hashValue": "', "stopncii")


def test_video_frames_are_canonical():
    first = parse(f"video {json.dumps(FRAMES)}\n", "plain")[0]
    reordered = [dict(reversed(list(frame.items()))) for frame in FRAMES]
    second = parse(f"video {json.dumps(reordered, separators=(',', ':'))}\n", "plain")[0]
    assert first.signal_type is SignalType.VIDEO and first.value == second.value
    assert first.video_frames == second.video_frames
    assert isinstance(parse('video [{"frame": 0}]\n', "plain")[0], BadRecord)


def _entries(session, bank_id: int) -> list[tuple]:
    rows = session.execute(
        select(
            BankEntry.signal_type,
            BankEntry.signal_value,
            BankEntry.video_frames,
            BankEntry.status,
            BankEntry.source,
            BankEntry.note,
        )
        .where(BankEntry.bank_id == bank_id)
        .order_by(BankEntry.signal_type, BankEntry.signal_value)
    ).all()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("fmt", ["plain", "csv", "stopncii"])
def test_round_trip(session, tmp_path: Path, fmt: str):
    source = create_bank(session, "source")
    lines = [
        ["pdq", PDQ_A, "active", "victim form", "first"],
        ["md5", MD5, "active", "", ""],
        ["sha256", SHA256, "withdrawn", "stopncii", "gone"],
        ["video", json.dumps(FRAMES), "active", "", "clip"],
        ["pdq", PDQ_B, "disabled", "", ""],
    ]
    seed = tmp_path / "seed.csv"
    import csv

    with seed.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["signal_type", "signal_str", "status", "source", "note"])
        writer.writerows(lines)
    summary = import_file(session, source.id, seed, "csv")
    assert summary.records == 5 and summary.created == 5 and summary.invalid == 0

    exported = tmp_path / f"export.{fmt}"
    with exported.open("w", encoding="utf-8", newline="") as handle:
        written = export_file(session, source.id, handle, fmt)
    target = create_bank(session, f"copy-{fmt}")
    again = import_file(session, target.id, exported, fmt)
    assert again.invalid == 0

    original = _entries(session, source.id)
    copied = _entries(session, target.id)
    if fmt == "plain":
        # Plain lists carry no status: only active entries, and no source or note.
        assert written == 3
        active = [row for row in original if row[3] == EntryStatus.ACTIVE]
        assert [row[:4] for row in copied] == [row[:4] for row in active]
    else:
        assert written == 5 and copied == original


def _generated_list(path: Path, lines: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    with path.open("w") as handle:
        for _ in range(lines // 10_000):
            block = rng.integers(0, 256, size=(10_000, 32), dtype=np.uint8)
            handle.writelines(f"pdq {row.tobytes().hex()}\n" for row in block)
    return path.stat().st_size


def _traced_import(session, path: Path, name: str) -> tuple[int, int, list[int]]:
    bank = create_bank(session, name)
    progress: list[int] = []
    tracemalloc.start()
    try:
        summary = import_file(
            session, bank.id, path, "plain", on_bytes=progress.append, batch_size=500
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return summary.created, peak, progress


def test_large_import_streams_with_flat_memory(session, tmp_path: Path):
    """Four times the lines, the same peak of Python allocations: nothing holds more than one
    batch (bench/banks_import.py measures a million lines)."""
    small_size = _generated_list(tmp_path / "small.txt", 10_000, seed=1)
    large_size = _generated_list(tmp_path / "large.txt", 40_000, seed=2)
    small_created, small_peak, _ = _traced_import(session, tmp_path / "small.txt", "small")
    large_created, large_peak, progress = _traced_import(session, tmp_path / "large.txt", "large")
    assert (small_created, large_created) == (10_000, 40_000)
    assert sum(progress) == large_size  # the progress bar sees every byte
    assert large_peak < small_peak * 1.3 + 200_000, (small_peak, large_peak)
    assert large_peak < large_size / 2, f"peak {large_peak} bytes for a {large_size}-byte file"
    assert small_size * 4 == large_size
