"""Triage end to end (signed intake -> real RQ worker -> database): text signals with spans,
NudeNet detections as signals, bank matches, priority order and re-prioritised clusters."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from sqlalchemy import select

from models import Report, Signal
from moderation.core.db import db
from moderation.media.classifiers import Detection, ImageClassification
from moderation.media.classifiers.registry import BUILTIN_MANIFEST_DIR
from moderation.media.imaging import hash_image
from moderation.triage.signals import classifier_signals
from tests.factories import make_image, make_platform, post_report, report_body, run_worker_burst

DOXXING_KO = "그 년 주소 서울시 강남구 테헤란로 123, 전화 010-1234-5678 지인능욕 해주세요"


def _use_private_indexes(app, tmp_path: Path) -> None:
    app.config["MEDIA_INDEX_DIR"] = str(tmp_path / "media-index")
    app.config["BANK_INDEX_DIR"] = str(tmp_path / "bank-index")


def _signals(app, report_id: int) -> list[Signal]:
    with app.app_context():
        return list(
            db.session.execute(
                select(Signal).where(Signal.report_id == report_id).order_by(Signal.id)
            ).scalars()
        )


def _report(app, report_id: int) -> Report:
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert report is not None
        return report


def test_text_signals_are_stored_with_spans_and_language(app, client, tmp_path):
    _use_private_indexes(app, tmp_path)
    platform = make_platform(app)
    body = report_body(comment="she is a 중학생, please help")
    body["content"]["text"] = DOXXING_KO
    report_id = post_report(client, platform, body).get_json()["id"]

    run_worker_burst(app)

    text = [s for s in _signals(app, report_id) if s.kind == "text"]
    by_label = {(s.details["field"], s.label): s.details for s in text}
    phone = by_label[("content_text", "phone_kr_mobile")]
    assert DOXXING_KO[phone["start"] : phone["end"]] == "010-1234-5678"
    assert phone["text_kind"] == "doxxing" and phone["severity"] >= 1
    assert ("content_text", "address_kr") in by_label
    hint = by_label[("comment", "minor_hint")]
    assert body["comment"][hint["start"] : hint["end"]] == "중학생"
    report = _report(app, report_id)
    assert report.language == "ko"
    codes = {reason["code"] for reason in report.priority_reasons}
    assert {"text.doxxing", "text.lexicon", "minor.text_hint"} <= codes


def _eager_nudenet(directory: Path) -> None:
    """The built-in NudeNet manifest at a near-zero threshold, so synthetic pictures (no people,
    no nudity) still produce detections with boxes: proves the model runs inside triage."""
    spec = importlib.util.find_spec("nudenet")
    assert spec is not None and spec.submodule_search_locations
    package = Path(next(iter(spec.submodule_search_locations)))
    raw = json.loads((BUILTIN_MANIFEST_DIR / "nudenet-320n.json").read_text(encoding="utf-8"))
    raw.update(
        name="eager-nudenet", thresholds={"default": 0.0001}, file=str(package / "320n.onnx")
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "eager-nudenet.json").write_text(json.dumps(raw), encoding="utf-8")


def test_nudenet_runs_in_triage_and_detections_are_stored_with_boxes(app, client, tmp_path):
    _use_private_indexes(app, tmp_path)
    _eager_nudenet(tmp_path / "manifests")
    app.config["CLASSIFIER_MODEL"] = "eager-nudenet"
    app.config["CLASSIFIER_MANIFEST_DIRS"] = str(tmp_path / "manifests")
    platform = make_platform(app)
    size = (1280, 720)
    report_id = post_report(client, platform, report_body([make_image(5, size)])).get_json()["id"]

    run_worker_burst(app)

    found = [s for s in _signals(app, report_id) if s.kind == "classifier"]
    assert found, "the classifier ran but stored no detection"
    for signal in found:
        assert signal.details["model"] == "eager-nudenet"
        if "box" in signal.details:
            x, y, w, h = signal.details["box"]
            # Boxes are in the original's pixels, though the model saw a 640 px copy.
            assert 0 <= x and 0 <= y and x + w <= size[0] + 2 and y + h <= size[1] + 2
            assert 0 < signal.score <= 1
    assert max(s.details["box"][0] + s.details["box"][2] for s in found if "box" in s.details) > 640


def test_a_missing_model_is_a_signal_not_a_dead_report(app, client, tmp_path):
    _use_private_indexes(app, tmp_path)
    app.config["CLASSIFIER_MODEL"] = "no-such-model"
    platform = make_platform(app)
    report_id = post_report(client, platform, report_body([make_image(6)])).get_json()["id"]
    run_worker_burst(app)
    errors = [s for s in _signals(app, report_id) if s.kind == "classifier_error"]
    assert [s.label for s in errors] == ["no-such-model"]
    assert _report(app, report_id).status == "queued"


def test_face_with_exposed_becomes_the_key_signal_with_scaled_boxes():
    from PIL import Image

    result = ImageClassification(
        model="nudenet-320n",
        detections=[
            Detection("FACE_FEMALE", 0.8, (10, 10, 20, 20)),
            Detection("FEMALE_BREAST_EXPOSED", 0.6, (100, 50, 40, 40)),
        ],
        scores={},
    )
    rows = classifier_signals(7, result, Image.new("RGB", (320, 180)), (1280, 720))
    labels = [row.label for row in rows]
    assert labels == ["FACE_FEMALE", "FEMALE_BREAST_EXPOSED", "face_with_exposed"]
    assert rows[0].details["box"] == [40, 40, 80, 80]
    assert rows[2].details["exposed_labels"] == ["FEMALE_BREAST_EXPOSED"]
    exposed_only = ImageClassification("m", [Detection("BUTTOCKS_EXPOSED", 0.5, (0, 0, 1, 1))], {})
    assert [r.label for r in classifier_signals(1, exposed_only, Image.new("RGB", (8, 8)), (8, 8))][
        -1
    ] == "exposed"


def test_mixed_batch_puts_bank_matches_and_doxxing_first(app, client, tmp_path):
    from moderation.banks.service import add_to_bank, create_bank

    _use_private_indexes(app, tmp_path)
    platform = make_platform(app)
    banked = make_image(40)
    with app.app_context():
        bank = create_bank(db.session, "victims", kind="victim_submitted", actor_kind="system")
        add_to_bank(db.session, bank.id, "pdq", hash_image(banked)[1].pdq, source="test")

    def post(media, category, text="look at her", reporter="user"):
        body = report_body(media, category=category, reporter={"kind": reporter, "id": "r"})
        body["content"]["text"] = text
        return post_report(client, platform, body).get_json()["id"]

    plain = [
        post([make_image(41)], "ncii"),
        post([make_image(42)], "sexual_harassment"),
        post([], "other", "what a lovely day"),
        post([make_image(43)], "synthetic_sexual", reporter="trusted_flagger"),
    ]
    doxxing = post([], "doxxing", DOXXING_KO)
    bank_hit = post([banked], "other")

    run_worker_burst(app)

    with app.app_context():
        order = list(
            db.session.execute(
                select(Report.id).order_by(Report.priority.desc(), Report.id)
            ).scalars()
        )
        top = db.session.get(Report, bank_hit)
        assert top is not None
        assert top.priority_reasons[0]["code"] == "bank.victim_submitted"
        bank_rows = [s for s in top.signals if s.kind == "bank"]
        assert bank_rows and bank_rows[0].details["bank_name"] == "victims"
    assert order[:2] == [bank_hit, doxxing]
    assert set(order[2:]) == set(plain)


def test_cluster_members_are_reprioritised_when_a_reshare_joins(app, client, tmp_path):
    _use_private_indexes(app, tmp_path)
    platform = make_platform(app)
    picture = make_image(50)
    first = post_report(client, platform, report_body([picture])).get_json()["id"]
    run_worker_burst(app)
    before = _report(app, first).priority
    later = []
    for _ in range(2):
        later.append(post_report(client, platform, report_body([picture])).get_json()["id"])
        run_worker_burst(app)

    reports = [_report(app, report_id) for report_id in [first, *later]]
    assert len({report.cluster_id for report in reports}) == 1
    assert reports[0].priority == before + 6  # two re-shares at 3 points each
    reshares = [r for r in reports[0].priority_reasons if r["code"] == "reshares"]
    assert reshares == [
        {
            "code": "reshares",
            "points": 6,
            "detail": "3 reports of the same content",
            "params": {"count": 3},
        }
    ]
    assert reports[2].priority == reports[0].priority
    status = client.get(
        f"/api/v1/platforms/{platform.slug}/reports/{later[0]}",
        headers={"Authorization": f"Bearer {platform.api_token}"},
    ).get_json()
    assert status["cluster_id"] == reports[0].cluster_id


def test_triage_writes_each_row_once_and_claims_only_once(app, client, tmp_path):
    """Phase two does not autoflush: the report row is written by the claim and once more at
    the end, the media row once, the hashes in one statement; and the claim returns the report
    loaded (media and signals), refusing a second claim."""
    from datetime import timedelta

    from sqlalchemy import event

    from models import Cluster, ReportStatus
    from moderation.media.store import media_store_for
    from moderation.triage import pipeline as triage

    _use_private_indexes(app, tmp_path)
    platform = make_platform(app)
    picture = make_image(51)
    first = post_report(client, platform, report_body([picture])).get_json()["id"]
    copy = post_report(client, platform, report_body([picture])).get_json()["id"]
    settings = triage.TriageSettings.from_config(app.config, app.instance_path)
    writes: dict[int, list[str]] = {}
    for report_id in (first, copy):
        with app.app_context():
            statements: list[str] = []

            def record(_conn, _cursor, statement, *_args, log=statements):
                log.append(" ".join(statement.split()[:3]).lower())

            event.listen(db.engine, "before_cursor_execute", record)
            try:
                store = media_store_for(app.config)
                assert triage.triage_report(db.session, store, report_id, settings) == "done"
            finally:
                event.remove(db.engine, "before_cursor_execute", record)
            writes[report_id] = statements
    # The copy also re-scores the first report (its re-share points changed).
    assert writes[first].count("update reports set") == 2
    assert writes[copy].count("update reports set") == 3
    for statements in writes.values():
        assert statements.count("update media set") == 1
        assert statements.count("insert into media_hashes") == 1
    reports = [_report(app, report_id) for report_id in (first, copy)]
    assert reports[0].cluster_id == reports[1].cluster_id is not None
    assert all(report.status == ReportStatus.QUEUED for report in reports)
    with app.app_context():
        assert db.session.get(Cluster, reports[0].cluster_id).report_count == 2
        assert triage.claim(db.session, first, timedelta(minutes=15)) is None


def test_the_status_api_reveals_nothing_of_other_tenants(app, client, tmp_path):
    """Security finding 9: another platform's copy of the picture and a victim-submitted bank
    entry must not show in a platform's status document (reasons, priority, cluster id)."""
    from moderation.banks.service import add_to_bank, create_bank
    from moderation.media.analysis import analyse_image
    from moderation.media.imaging import ImageLimits

    _use_private_indexes(app, tmp_path)
    picture = make_image(51)
    with app.app_context():
        bank = create_bank(db.session, "registered by victims", kind="victim_submitted")
        add_to_bank(
            db.session, bank.id, "pdq", analyse_image(picture, ImageLimits()).pdq, source="t"
        )
    elsewhere, ours = make_platform(app, "elsewhere"), make_platform(app, "ours")
    post_report(client, elsewhere, report_body([picture]))
    mine = post_report(client, ours, report_body([picture])).get_json()["id"]
    run_worker_burst(app)
    stored = _report(app, mine)
    codes = {reason["code"] for reason in stored.priority_reasons}
    assert {"reshares", "bank.victim_submitted"} <= codes  # ranked on them internally

    def status(report_id: int) -> dict:
        return client.get(
            f"/api/v1/platforms/ours/reports/{report_id}",
            headers={"Authorization": f"Bearer {ours.api_token}"},
        ).get_json()

    shown = status(mine)
    assert {r["code"] for r in shown["priority_reasons"]} == codes - {
        "reshares",
        "bank.victim_submitted",
    }
    assert shown["priority"] == sum(r["points"] for r in shown["priority_reasons"])
    assert shown["cluster_id"] is None  # the only other copy is another platform's
    second = post_report(client, ours, report_body([picture])).get_json()["id"]
    run_worker_burst(app)
    assert status(second)["cluster_id"] == status(mine)["cluster_id"] == stored.cluster_id
