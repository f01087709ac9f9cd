"""The whole hostile corpus (tests/media/hostile_corpus.py) through the signed webhook and a real
RQ worker on real Redis: every job finishes, every report reaches review, every medium ends
failed with its readable reason or hashed, and the worker is still there for the next report."""

from __future__ import annotations

import base64
import hashlib

from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.serializers import JSONSerializer

from models import Report
from moderation.core.db import db
from moderation.core.queueing import queue
from tests.factories import make_image, make_platform, post_report, report_body, run_worker_burst
from tests.media.hostile_corpus import corpus

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "video/mp4": "mp4",
               "video/x-matroska": "mkv"}  # fmt: skip
PER_REPORT = 10


def _body(items) -> dict:
    body = report_body([])
    body["content"]["media"] = [
        {
            "data": base64.b64encode(item.data).decode(),
            "filename": f"m{index}.{_EXTENSIONS[item.declared]}",
        }
        for index, item in enumerate(items)
    ]
    return body


def test_the_hostile_corpus_never_kills_a_worker_or_loses_a_report(app, client, redis, tmp_path):
    app.config["MEDIA_INDEX_DIR"] = str(tmp_path / "media-index")
    app.config["BANK_INDEX_DIR"] = str(tmp_path / "bank-index")
    platform = make_platform(app)
    items = [item for item in corpus() if item.data]
    # A zero-byte medium is refused at the door, whole and readable, with nothing stored.
    empty = post_report(client, platform, _body([item for item in corpus() if not item.data]))
    assert empty.status_code == 422 and empty.get_json()["error"] == "invalid_media"
    report_ids = []
    for start in range(0, len(items), PER_REPORT):
        response = post_report(client, platform, _body(items[start : start + PER_REPORT]))
        assert response.status_code == 202, response.get_json()
        report_ids.append(response.get_json()["id"])

    run_worker_burst(app)

    triage_queue = queue("triage", redis)
    assert FailedJobRegistry(queue=triage_queue, serializer=JSONSerializer).count == 0
    assert FinishedJobRegistry(queue=triage_queue, serializer=JSONSerializer).count == len(
        report_ids
    )
    with app.app_context():
        media = [m for rid in report_ids for m in db.session.get(Report, rid).media]
        assert [db.session.get(Report, rid).status for rid in report_ids] == ["queued"] * len(
            report_ids
        )
        assert len(media) == len(items)
        for item, medium in zip(items, media, strict=True):  # reports in order, media by position
            if item.error is None:
                assert medium.state != "failed", (item.name, medium.error)
                assert medium.sha256 == hashlib.sha256(item.data).hexdigest(), item.name
            else:
                assert medium.state == "failed", item.name
                assert item.error in (medium.error or ""), (item.name, medium.error)

    # The same worker process (jobs run in it) takes the next, ordinary report.
    after = post_report(client, platform, report_body([make_image(93)])).get_json()["id"]
    run_worker_burst(app)
    with app.app_context():
        assert db.session.get(Report, after).status == "queued"
