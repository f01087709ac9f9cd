"""Bank lookups through the PDQ index: dihedral matches, the quality gate, per-bank thresholds,
disabled banks, incremental refresh without a rebuild, and the maintenance job."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import current_app

from moderation.banks.formats import read_records
from moderation.banks.import_export import import_records
from moderation.banks.service import add_to_bank, create_bank, match_media, set_bank_enabled
from moderation.media.imaging import decode_image, exact_hashes, pdq_dihedral_of, pdq_of
from moderation.settings import settings_for
from tests.conftest import TESTDATA

DIHEDRAL = TESTDATA / "pdq" / "dihedral"
ORIGINAL = DIHEDRAL / "bridge-1-original.jpg"
TRANSFORMED = sorted(path for path in DIHEDRAL.glob("*.jpg") if path != ORIGINAL)


def image_hashes(path: Path) -> tuple[list[str], int]:
    return pdq_dihedral_of(decode_image(path.read_bytes()).image)


def flip_bits(hex_value: str, count: int) -> str:
    value = int(hex_value, 16)
    for bit in range(count):
        value ^= 1 << (bit * 6)
    return f"{value:064x}"


def _index():
    return settings_for(current_app).bank_index_handle()


def lookup(session, dihedral: list[str], quality: int = 100, **exact: str | None):
    return match_media(
        session,
        _index(),
        pdq_dihedral=dihedral,
        pdq_quality=quality,
        md5=exact.get("md5"),
        sha256=exact.get("sha256"),
    )


def test_every_dihedral_variant_is_found_from_the_banked_original(session):
    bank = create_bank(session, "confirmed NCII", kind="confirmed")
    original_pdq, _ = pdq_of(decode_image(ORIGINAL.read_bytes()).image)
    entry = add_to_bank(session, bank.id, "pdq", original_pdq, source="test")
    assert len(TRANSFORMED) == 7
    for path in [ORIGINAL, *TRANSFORMED]:
        dihedral, quality = image_hashes(path)
        assert quality >= 50
        matches = lookup(session, dihedral, quality)
        assert [m.entry_id for m in matches] == [entry.id], path.name
        assert matches[0].bank_kind == "confirmed" and matches[0].reason_code == "bank.confirmed"
        # Without the other seven hashes a rotated copy is far away: the dihedral set matters.
    rotated, quality = image_hashes(DIHEDRAL / "bridge-2-rotate-90.jpg")
    assert lookup(session, rotated[:1], quality) == []


def test_original_finds_each_banked_transformed_copy(session):
    bank = create_bank(session, "victim-submitted", kind="victim_submitted")
    ids = set()
    for path in TRANSFORMED:
        pdq, _ = pdq_of(decode_image(path.read_bytes()).image)
        ids.add(add_to_bank(session, bank.id, "pdq", pdq, source="test").id)
    dihedral, quality = image_hashes(ORIGINAL)
    matches = lookup(session, dihedral, quality)
    assert {m.entry_id for m in matches} == ids
    assert all(m.reason_code == "bank.victim_submitted" for m in matches)


def test_low_quality_images_match_by_exact_hashes_only(session):
    data = (TESTDATA / "pdq" / "formats" / "I16.png").read_bytes()
    dihedral, quality = pdq_dihedral_of(decode_image(data).image)
    assert quality < 50
    sha256, md5 = exact_hashes(data)
    bank = create_bank(session, "imported", kind="imported")
    add_to_bank(session, bank.id, "pdq", dihedral[0], source="test")
    assert lookup(session, dihedral, quality) == []
    sha_entry = add_to_bank(session, bank.id, "sha256", sha256, source="test")
    md5_entry = add_to_bank(session, bank.id, "md5", md5.upper(), source="test")
    matches = lookup(session, dihedral, quality, sha256=sha256, md5=md5)
    assert {(m.entry_id, m.signal_type, m.distance) for m in matches} == {
        (sha_entry.id, "sha256", 0),
        (md5_entry.id, "md5", 0),
    }
    assert all(m.reason_code == "bank.imported" for m in matches)


def test_per_bank_threshold_and_disabled_bank(session):
    base = "a5" * 32
    strict = create_bank(session, "strict", pdq_threshold=10)
    loose = create_bank(session, "loose", pdq_threshold=31)
    strict_entry = add_to_bank(session, strict.id, "pdq", flip_bits(base, 12), source="t")
    loose_entry = add_to_bank(session, loose.id, "pdq", flip_bits(base, 12), source="t")
    near = add_to_bank(session, strict.id, "pdq", flip_bits(base, 8), source="t")
    add_to_bank(session, loose.id, "pdq", flip_bits(base, 40), source="t")
    matches = lookup(session, [base])
    assert [(m.entry_id, m.distance) for m in matches] == [(near.id, 8), (loose_entry.id, 12)]
    assert strict_entry.id not in {m.entry_id for m in matches}
    set_bank_enabled(session, loose.id, False, actor_user_id=None)
    assert [m.entry_id for m in lookup(session, [base])] == [near.id]
    set_bank_enabled(session, loose.id, True, actor_user_id=None)
    assert len(lookup(session, [base])) == 2


def test_entries_committed_elsewhere_are_searchable_at_once_without_a_rebuild(session):
    index = _index()
    clock = {"now": 1000.0}
    index.clock = lambda: clock["now"]
    bank = create_bank(session, "feed")
    first = "3c" * 32
    add_to_bank(session, bank.id, "pdq", first, source="t")
    assert len(lookup(session, [first])) == 1  # builds the base on first use
    version = index.stats()["version"]

    # Another process (here: a bulk import, which does not touch this process's index) adds one.
    second = "c3" * 32
    records = read_records(io.BytesIO(f"pdq {second}\n".encode()), "plain")
    import_records(session, bank.id, records, "plain")
    clock["now"] += 5  # well inside the refresh period: new entries are still found at once
    assert len(lookup(session, [second])) == 1
    stats = index.stats()
    assert stats["version"] == version and stats["delta"] == 1  # no rebuild happened


def test_refresh_rebuilds_when_the_new_base_is_unreadable(session):
    from tests.triage.test_clusters import _write_unreadable_version

    index = _index()
    bank = create_bank(session, "upgrade")
    add_to_bank(session, bank.id, "pdq", "5a" * 32, source="t")
    index.refresh(session, force=True)
    _write_unreadable_version(index.settings.directory)
    add_to_bank(session, bank.id, "pdq", "a5" * 32, source="t")
    index.refresh(session, force=True)
    assert len(lookup(session, ["5a" * 32])) == 1 and len(lookup(session, ["a5" * 32])) == 1
    assert index.stats()["version"] != "v-99999999999999999999-feedbeef"


def test_maintenance_rebuilds_when_the_delta_grows_and_the_job_runs(session, app):
    from workers import jobs

    bank = create_bank(session, "bulk")
    add_to_bank(session, bank.id, "pdq", "11" * 32, source="t")
    index = _index()
    index.refresh(session, force=True)
    lines = "".join(f"pdq {flip_bits('77' * 32, n)}\n" for n in range(1, 6))
    import_records(session, bank.id, read_records(io.BytesIO(lines.encode()), "plain"), "plain")
    app.config["BANK_INDEX_COMPACT_AT"] = 3
    stats = jobs.maintain_bank_index()
    assert stats["rebuilt"] is True and stats["entries"] == 6 and stats["delta"] == 0
    assert len(lookup(session, ["77" * 32])) == 5
    # The job pushed its own app context, whose teardown dropped this session from the
    # registry: close it here so no transaction outlives the test.
    session.close()


def test_malformed_pdq_is_a_value_error(session):
    create_bank(session, "any")
    with pytest.raises(ValueError):
        lookup(session, ["xyz"])


def test_concurrent_writers_commit_in_id_order_so_refresh_misses_nothing(app):
    """A writer that draws an id must commit before a later writer's entry becomes visible;
    otherwise a refresh between the two commits would skip the earlier id for good."""
    import threading

    from sqlalchemy import select

    from models import BankEntry
    from moderation.banks.index import lock_entry_writes
    from moderation.core.db import db

    with app.app_context():
        bank_id = create_bank(db.session, "race").id
    first_inserted = threading.Event()
    order: list[str] = []

    def slow_writer() -> None:
        with app.app_context():
            session = db.session
            lock_entry_writes(session)
            session.add(
                BankEntry(bank_id=bank_id, signal_type="pdq", signal_value="11" * 32, source="a")
            )
            session.flush()  # the id is drawn here
            first_inserted.set()
            threading.Event().wait(0.5)  # a slow transaction, e.g. a big import batch
            order.append("slow committed")
            session.commit()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert first_inserted.wait(10)
    with app.app_context():
        add_to_bank(db.session, bank_id, "pdq", "22" * 32, source="b")
        order.append("fast committed")
        ids = db.session.execute(
            select(BankEntry.signal_value, BankEntry.id).where(BankEntry.bank_id == bank_id)
        ).all()
    thread.join()
    assert order == ["slow committed", "fast committed"]
    by_value = dict(ids)
    assert by_value["11" * 32] < by_value["22" * 32]
