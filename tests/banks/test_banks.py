"""Bank service and CLI: StopNCII withdrawals stop matching (also on re-import), upsert rules,
strict imports, video entries, add_to_bank, and `moderation bank create|import|export|list`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select

from models import AuditEvent, BankEntry, EntryStatus
from moderation.banks.import_export import import_file
from moderation.banks.service import (
    add_to_bank,
    create_bank,
    match_media,
    match_video,
    set_entry_status,
)
from moderation.core.errors import ConflictError, ValidationError
from moderation.settings import settings_for

PDQ_ACTIVE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ_WITHDRAWN = "0f0f0f0f" * 8
PDQ_DELETED = "5a5a5a5a" * 8
MD5_WITHDRAWN = "d41d8cd98f00b204e9800998ecf8427e"


def stopncii_file(path: Path, statuses: dict[str, str], lines: bool = False) -> Path:
    records = [
        {"signalType": "ImagePDQ", "hashValue": PDQ_ACTIVE, "hashStatus": statuses["active"]},
        {"signalType": "ImagePDQ", "hashValue": PDQ_WITHDRAWN, "hashStatus": statuses["withdrawn"]},
        {"signalType": "ImagePDQ", "hashValue": PDQ_DELETED, "hashStatus": statuses["deleted"]},
        {"signalType": "VideoMD5", "hashValue": MD5_WITHDRAWN, "hashStatus": statuses["withdrawn"]},
    ]
    text = "\n".join(json.dumps(r) for r in records) if lines else json.dumps(records)
    path.write_text(text)
    return path


def pdq_lookup(session, pdq: str, md5: str | None = None):
    index = settings_for(current_app).bank_index_handle()
    return match_media(session, index, pdq_dihedral=[pdq], pdq_quality=100, md5=md5, sha256=None)


@pytest.mark.parametrize("lines", [False, True])
def test_stopncii_withdrawn_and_deleted_never_match(session, tmp_path: Path, lines: bool):
    bank = create_bank(session, "stopncii", kind="imported")
    statuses = {"active": "Active", "withdrawn": "Withdrawn", "deleted": "Deleted"}
    summary = import_file(
        session, bank.id, stopncii_file(tmp_path / "s.json", statuses, lines), "stopncii"
    )
    assert summary.records == 4 and summary.created == 4
    assert len(pdq_lookup(session, PDQ_ACTIVE)) == 1
    assert pdq_lookup(session, PDQ_WITHDRAWN) == []
    assert pdq_lookup(session, PDQ_DELETED) == []
    assert pdq_lookup(session, "f" * 64, md5=MD5_WITHDRAWN) == []
    # A near-duplicate of a withdrawn hash does not match either.
    near = f"{int(PDQ_WITHDRAWN, 16) ^ 0b1011:064x}"
    assert pdq_lookup(session, near) == []


def test_reimport_flips_an_active_entry_to_withdrawn_and_back(session, tmp_path: Path):
    bank = create_bank(session, "stopncii")
    active_everywhere = {"active": "Active", "withdrawn": "Active", "deleted": "Active"}
    import_file(session, bank.id, stopncii_file(tmp_path / "a.json", active_everywhere), "stopncii")
    assert len(pdq_lookup(session, PDQ_WITHDRAWN)) == 1  # the index now holds it
    assert len(pdq_lookup(session, "f" * 64, md5=MD5_WITHDRAWN)) == 1

    later = {"active": "Active", "withdrawn": "Withdrawn", "deleted": "Deleted"}
    summary = import_file(session, bank.id, stopncii_file(tmp_path / "b.json", later), "stopncii")
    assert summary.created == 0
    assert pdq_lookup(session, PDQ_WITHDRAWN) == []  # at once: no index refresh needed
    assert pdq_lookup(session, PDQ_DELETED) == []
    assert pdq_lookup(session, "f" * 64, md5=MD5_WITHDRAWN) == []
    statuses = dict(session.execute(select(BankEntry.signal_value, BankEntry.status)).all())
    assert statuses[PDQ_WITHDRAWN] == EntryStatus.WITHDRAWN
    assert statuses[PDQ_DELETED] == EntryStatus.DELETED
    assert statuses[PDQ_ACTIVE] == EntryStatus.ACTIVE

    # Re-listed upstream: active again, and matching again without a rebuild.
    import_file(session, bank.id, stopncii_file(tmp_path / "c.json", active_everywhere), "stopncii")
    assert len(pdq_lookup(session, PDQ_WITHDRAWN)) == 1


def test_admin_disable_survives_upstream_active_and_plain_reimport(session, tmp_path: Path):
    bank = create_bank(session, "mixed")
    entry = add_to_bank(session, bank.id, "pdq", PDQ_ACTIVE, source="t")
    set_entry_status(session, entry.id, "disabled", actor_user_id=None, actor_kind="cli")
    assert pdq_lookup(session, PDQ_ACTIVE) == []
    (tmp_path / "p.txt").write_text(f"pdq {PDQ_ACTIVE}\n")
    import_file(session, bank.id, tmp_path / "p.txt", "plain")
    statuses = {"active": "Active", "withdrawn": "Withdrawn", "deleted": "Deleted"}
    import_file(session, bank.id, stopncii_file(tmp_path / "s.json", statuses), "stopncii")
    session.expire_all()
    assert session.get(BankEntry, entry.id).status == EntryStatus.DISABLED
    assert pdq_lookup(session, PDQ_ACTIVE) == []


def test_strict_import_writes_nothing_when_a_line_is_bad(session, tmp_path: Path):
    bank = create_bank(session, "strict")
    path = tmp_path / "list.txt"
    path.write_text(f"pdq {PDQ_ACTIVE}\nmd5 nothex\npdq {PDQ_DELETED}\n")
    with pytest.raises(ValidationError) as error:
        import_file(session, bank.id, path, "plain", strict=True)
    assert "line(s) 2" in error.value.message and "nothex" not in error.value.message
    assert session.execute(select(BankEntry.id)).first() is None
    summary = import_file(session, bank.id, path, "plain")
    assert (summary.records, summary.invalid, summary.bad_lines[0][0]) == (2, 1, 2)


def test_bank_validation(session):
    create_bank(session, "one")
    with pytest.raises(ConflictError):
        create_bank(session, "one")
    with pytest.raises(ValidationError):
        create_bank(session, "two", pdq_threshold=32)
    with pytest.raises(ValidationError):
        create_bank(session, "three", kind="nonsense")


def test_add_to_bank_is_idempotent_and_audited(session):
    bank = create_bank(session, "confirmed", kind="confirmed", action_hint="known_violation")
    first = add_to_bank(session, bank.id, "pdq", PDQ_ACTIVE.upper(), source="decision:7", note="x")
    again = add_to_bank(session, bank.id, "pdq", PDQ_ACTIVE, source="decision:8")
    assert first.id == again.id and first.signal_value == PDQ_ACTIVE
    match = pdq_lookup(session, PDQ_ACTIVE)[0]
    assert match.to_details() == {
        "bank_id": bank.id,
        "bank_name": "confirmed",
        "bank_kind": "confirmed",
        "action_hint": "known_violation",
        "entry_id": first.id,
        "signal_type": "pdq",
        "distance": 0,
    }
    actions = session.execute(select(AuditEvent.action)).scalars().all()
    assert actions.count("bank.entry_add") == 1
    with pytest.raises(ValidationError):
        add_to_bank(session, bank.id, "pdq", "abc", source="t")


def _frames(seed: int, count: int = 6) -> list[dict]:
    import random

    rng = random.Random(seed)
    return [
        {
            "frame": i * 25,
            "quality": 90,
            "pdq": f"{rng.getrandbits(256):064x}",
            "timestamp": float(i),
        }
        for i in range(count)
    ]


def test_video_entries_match_by_frame_shares(session):
    bank = create_bank(session, "videos", kind="victim_submitted")
    frames = _frames(1)
    entry = add_to_bank(session, bank.id, "video", frames, source="t")
    add_to_bank(session, bank.id, "video", _frames(2), source="t")
    matches = match_video(session, frames)
    assert [(m.entry_id, m.signal_type, m.video_share) for m in matches] == [
        (entry.id, "video", 1.0)
    ]
    assert match_video(session, _frames(3)) == []
    set_entry_status(session, entry.id, "withdrawn", actor_user_id=None)
    assert match_video(session, frames) == []


def test_cli_create_import_export_list(runner, tmp_path: Path):
    created = runner.invoke(
        args=[
            "bank",
            "create",
            "victim-submitted",
            "--kind",
            "victim_submitted",
            "--threshold",
            "24",
            "--json",
        ]
    )
    assert created.exit_code == 0, created.output
    bank = json.loads(created.output)
    assert bank["kind"] == "victim_submitted" and bank["pdq_threshold"] == 24

    source = tmp_path / "in.csv"
    source.write_text(f"signal_type,signal_str,status\npdq,{PDQ_ACTIVE},active\nmd5,oops,active\n")
    imported = runner.invoke(args=["bank", "import", "victim-submitted", str(source), "--json"])
    assert imported.exit_code == 0, imported.output
    summary = json.loads(imported.output)
    assert summary["records"] == 1 and summary["invalid"] == 1
    assert summary["bad_lines"] == [{"line": 3, "reason": "a md5 hash is 32 hex digits"}]

    strict = runner.invoke(
        args=["bank", "import", str(bank["id"]), str(source), "--strict", "--json"]
    )
    assert strict.exit_code == 1 and json.loads(strict.output)["error"] == "invalid_import"

    out = tmp_path / "out.json"
    exported = runner.invoke(args=["bank", "export", "victim-submitted", str(out), "--json"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["entries"] == 1
    assert json.loads(out.read_text())[0]["hashValue"] == PDQ_ACTIVE

    listed = runner.invoke(args=["bank", "list", "--json"])
    assert json.loads(listed.output)[0]["entries"] == {"active": 1}
    missing = runner.invoke(args=["bank", "import", "nope", str(source), "--json"])
    assert missing.exit_code == 1 and json.loads(missing.output)["error"] == "not_found"
    duplicate = runner.invoke(args=["bank", "create", "victim-submitted", "--json"])
    assert json.loads(duplicate.output)["error"] == "conflict"
    reindexed = runner.invoke(args=["bank", "reindex", "--json"])
    assert json.loads(reindexed.output)["entries"] == 1
