"""Preservation holds and retention: a hold (or an open case) keeps media whatever its age;
retention crypto-shreds exactly the unheld media past RETENTION_DAYS for its outcome (the
wrapped key and ciphertext are gone, reading says so clearly, a custody event per medium), keeps
bytes another medium still needs, leaves report rows and hashes, and the audit chain verifies."""

from __future__ import annotations

import io
import json
import os
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from models import AuditEvent, Decision, Media, MediaHold, MediaShred, Report, User, utcnow
from moderation.audit import events as audit
from moderation.cases import holds, opening, retention, service
from moderation.cases.actor import Actor
from moderation.cases.evidence import export_case
from moderation.cases.settings import CaseSettings
from moderation.cases.signing import EvidenceSigner
from moderation.cases.summary import summary_renderer
from moderation.core.db import db
from moderation.core.errors import ForbiddenError, ValidationError
from moderation.media.store import MediaIntegrityError, MediaStoreError, media_store_for
from moderation.review import decisions, finalize
from tests.factories import make_image, make_user
from tests.review.review_factories import make_report

DAYS = {"no_violation": 30, "removed": 180, "escalated": 30}
SETTINGS = CaseSettings(referral_hours=24, retention_days=DAYS)
LATER = timedelta(days=40)


def _decide(app, report_id: int, action: str, user_id: int) -> None:
    with app.app_context():
        report = db.session.get(Report, report_id)
        decisions.decide(db.session, report, user_id, decisions.DecisionInput(action), 0, 5)
        finalize.finalize_due(db.session)


def _media_of(app, report_id: int) -> Media:
    with app.app_context():
        return db.session.execute(select(Media).where(Media.report_id == report_id)).scalar_one()


def _run(app, dry_run=False, now=None, store=None):
    with app.app_context():
        return retention.run_retention(
            db.session, store or media_store_for(app.config), SETTINGS, dry_run=dry_run,
            now=now or utcnow() + LATER,
        )  # fmt: skip


def test_retention_shreds_exactly_the_unheld_media_past_its_period(app):
    moderator = make_user(app, "mod@example.org", "moderator")
    senior = make_user(app, "lead@example.org", "senior")
    shared_bytes = make_image(52)
    reports = {
        "no_violation": make_report(app, media=[make_image(50)]),
        "removed": make_report(app, media=[make_image(51)]),
        "shared": make_report(app, media=[shared_bytes]),
        "copy_waiting": make_report(app, media=[shared_bytes]),  # same bytes, still queued
        "in_case": make_report(app, media=[make_image(53)]),
        "waiting": make_report(app, media=[make_image(54)]),
    }
    _decide(app, reports["no_violation"], "no_violation", moderator)
    _decide(app, reports["removed"], "remove.ncii", moderator)
    _decide(app, reports["shared"], "no_violation", moderator)
    _decide(app, reports["in_case"], "escalate", moderator)  # held from the escalation on
    with app.app_context():
        case = opening.open_case(
            db.session, [reports["in_case"]], "ncii", actor=Actor.cli(), settings=SETTINGS
        )
    media = {name: _media_of(app, report_id) for name, report_id in reports.items()}

    dry = _run(app, dry_run=True)
    assert [item.media_id for item in dry.shredded] == [media["no_violation"].id]
    assert dry.kept_shared == [media["shared"].id] and dry.held == 1
    with app.app_context():
        assert db.session.execute(select(MediaShred)).first() is None  # a dry run changes nothing

    run = _run(app)
    assert [item.media_id for item in run.shredded] == [media["no_violation"].id]
    assert run.shredded[0].outcome == "no_violation" and run.shredded[0].retention_days == 30
    store = media_store_for(app.config)
    gone = media["no_violation"]
    assert not store.exists(gone.storage_key)
    with pytest.raises(MediaStoreError):
        store.get(gone.storage_key)
    for name in ("removed", "shared", "copy_waiting", "in_case", "waiting"):
        assert store.get(media[name].storage_key)  # untouched
    with app.app_context():
        with pytest.raises(retention.MediaShredded, match="destroyed by retention"):
            retention.read_original(db.session, store, db.session.get(Media, gone.id))
        # The rows and every hash stay, so re-shares still match.
        row = db.session.get(Media, gone.id)
        assert row.sha256 == gone.sha256 and db.session.get(Report, gone.report_id) is not None
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "media.shred")
        ).scalar_one()
        assert event.object_type == "media" and event.object_id == str(gone.id)
        assert event.details["outcome"] == "no_violation"
        assert db.session.get(MediaShred, gone.id).object_destroyed_at is not None
    assert _run(app).shredded == []  # nothing twice

    # Hold and open case: kept at any age; closed and released by a senior: shredded.
    in_case = media["in_case"]
    # 500 days on: the escalation's hold has expired, but the case is open, so it stays;
    # the removed report's 180 days have passed.
    far = [item.media_id for item in _run(app, now=utcnow() + timedelta(days=500)).shredded]
    assert far == [media["removed"].id]
    with app.app_context():
        assert store.exists(in_case.storage_key)
        service.advance(db.session, case.id, "closed", actor=Actor.cli(), reason="no crime")
        lead = Actor.of(db.session.get(User, senior), SETTINGS.csam_roles)
        with pytest.raises(ForbiddenError):
            holds.release_case_holds(
                db.session,
                case.id,
                "done",
                Actor.of(db.session.get(User, moderator), SETTINGS.csam_roles),
            )
        with pytest.raises(ValidationError):
            holds.release_case_holds(db.session, case.id, " ", lead)
        holds.release_case_holds(db.session, case.id, "police closed their file", lead)
    # Still held by the escalation's own hold until it expires (one year).
    assert in_case.id not in [i.media_id for i in _run(app).shredded]
    assert in_case.id in [
        i.media_id for i in _run(app, now=utcnow() + timedelta(days=366)).shredded
    ]
    with app.app_context():
        audit.seal_pending(db.session)
        verdict = audit.verify_chain(db.session)
        assert verdict.ok and verdict.unsealed == 0
        # An export after the bytes are gone says so instead of failing.
        package = export_case(
            db.session, store, case.id, actor=Actor.cli(), settings=SETTINGS,
            signer=EvidenceSigner.from_config(app.config),
            render_summary=summary_renderer(app.jinja_env),
        )  # fmt: skip
        assert package.missing_media_ids == [in_case.id] and package.media_ids == []
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        document = json.loads(archive.read(f"{case.number}/data/case.json"))
    assert document["media"][0]["included"] is False and document["media"][0]["shredded"]


def test_destroy_overwrites_the_wrapped_key_before_unlinking(app, tmp_path):
    store = media_store_for(app.config)
    key = store.put(make_image(60))
    path = store._path(key)
    witness = tmp_path / "same-inode"
    os.link(path, witness)  # a second name for the same blocks, as a lost copy would be
    before = witness.read_bytes()
    assert store.destroy(key) is True and not path.exists()
    after = witness.read_bytes()
    assert len(after) == len(before) and after[4:44] != before[4:44]  # the wrapped data key
    assert after[56:] != before[56:]  # and the ciphertext
    # Even the surviving blocks no longer decrypt under MEDIA_KEY.
    os.link(witness, path)
    with pytest.raises(MediaIntegrityError):
        store.get(key)
    assert store.destroy(key) is True and store.destroy(key) is False


def test_an_interrupted_run_is_finished_by_the_next(app, monkeypatch):
    moderator = make_user(app, "mod@example.org", "moderator")
    report_id = make_report(app, media=[make_image(61)])
    _decide(app, report_id, "no_violation", moderator)
    store = media_store_for(app.config)
    real_destroy = store.destroy

    def dies(key):
        raise OSError("disk went away")

    monkeypatch.setattr(store, "destroy", dies)
    with pytest.raises(OSError):
        _run(app, store=store)
    medium = _media_of(app, report_id)
    with app.app_context():
        # Recorded (with its custody event) before the bytes go: never gone without a record.
        assert db.session.get(MediaShred, medium.id).object_destroyed_at is None
    assert store.exists(medium.storage_key)
    monkeypatch.setattr(store, "destroy", real_destroy)
    assert _run(app, store=store).shredded == []
    assert not store.exists(medium.storage_key)


def test_retention_and_hold_commands(app, runner):
    moderator = make_user(app, "mod@example.org", "moderator")
    old = make_report(app, media=[make_image(62)])
    kept = make_report(app, media=[make_image(63)])
    _decide(app, old, "no_violation", moderator)
    _decide(app, kept, "no_violation", moderator)
    opened = json.loads(
        runner.invoke(args=["case", "open", str(kept), "--type", "other", "--json"]).output
    )
    with app.app_context():
        # 31 days have passed since both decisions.
        db.session.execute(update(Decision).values(finalized_at=utcnow() - timedelta(days=31)))
        db.session.commit()
    dry = runner.invoke(args=["retention", "run", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.output)
    assert planned["dry_run"] and [i["media_id"] for i in planned["shredded"]] == [
        _media_of(app, old).id
    ]
    done = json.loads(runner.invoke(args=["retention", "run", "--json"]).output)
    assert [i["report_id"] for i in done["shredded"]] == [old]
    assert json.loads(runner.invoke(args=["retention", "run", "--json"]).output)["shredded"] == []

    extended = runner.invoke(args=["case", "hold", "extend", opened["number"], "--days", "730"])
    assert extended.exit_code == 0, extended.output
    with app.app_context():
        case_holds = (
            db.session.execute(select(MediaHold).where(MediaHold.case_id == opened["id"]))
            .scalars()
            .all()
        )
        assert case_holds and all(h.expires_at > utcnow() + timedelta(days=729) for h in case_holds)
    refused = runner.invoke(args=["case", "hold", "release", str(opened["id"]), "--reason", ""])
    assert refused.exit_code == 1
    released = runner.invoke(
        args=["case", "hold", "release", str(opened["id"]), "--reason", "court order", "--json"]
    )
    assert json.loads(released.output)["released"] == len(case_holds)
    # The report's own escalation hold is separate, released the same way.
    own = runner.invoke(
        args=["case", "hold", "release", str(kept), "--report", "--reason", "court order",
              "--json"]
    )  # fmt: skip
    assert json.loads(own.output)["released"] == 1
    again = runner.invoke(args=["case", "hold", "release", str(kept), "--report", "--reason", "x"])
    assert again.exit_code == 1 and "no holds in force" in again.output
    with app.app_context():
        actions = list(db.session.execute(select(AuditEvent.action)).scalars())
    assert {"hold.place", "hold.extend", "hold.release", "media.shred"} <= set(actions)


def test_the_cron_runs_retention_as_a_job(app, redis):
    from moderation.core.queueing import SHRED_EXPIRED_MEDIA
    from moderation.core.scheduling import periodic_jobs
    from workers import jobs

    assert (SHRED_EXPIRED_MEDIA, 3600) in periodic_jobs(app.config)
    moderator = make_user(app, "mod@example.org", "moderator")
    report_id = make_report(app, media=[make_image(64)])
    _decide(app, report_id, "no_violation", moderator)
    assert jobs.shred_expired_media() == 0  # decided just now: kept
    with app.app_context():
        db.session.execute(update(Decision).values(finalized_at=utcnow() - timedelta(days=31)))
        db.session.commit()
    assert jobs.shred_expired_media() == 1
    assert not media_store_for(app.config).exists(_media_of(app, report_id).storage_key)
    assert jobs.shred_expired_media() == 0


def test_a_reshare_arriving_before_the_destroy_keeps_its_bytes(app, monkeypatch):
    moderator = make_user(app, "mod@example.org", "moderator")
    picture = make_image(65)
    old = make_report(app, media=[picture])
    _decide(app, old, "no_violation", moderator)
    store = media_store_for(app.config)
    real_destroy = store.destroy
    monkeypatch.setattr(store, "destroy", lambda key: (_ for _ in ()).throw(OSError("died")))
    with pytest.raises(OSError):
        _run(app, store=store)  # recorded, then died before destroying
    again = make_report(app, media=[picture])  # the same bytes, re-shared meanwhile
    monkeypatch.setattr(store, "destroy", real_destroy)
    _run(app, store=store)
    # Looked up first: _media_of opens (and on leaving, closes) an app context of its own.
    old_media, new_media = _media_of(app, old), _media_of(app, again)
    with app.app_context():
        assert db.session.get(MediaShred, old_media.id).object_destroyed_at
        assert retention.read_original(db.session, store, new_media) == picture
        with pytest.raises(retention.MediaShredded):
            retention.read_original(db.session, store, old_media)
