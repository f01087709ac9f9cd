"""Fault: one delivery sent ten times at once to a live server, and again a day later. Standard
Webhooks' `webhook-id` is the idempotency key (the delivery row's unique constraint decides the
race); the signature's ±300 s timestamp window refuses the old request as it was, and a sender's
re-signed retry a day later gets the first answer. One report, one medium, triaged once."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from models import Media, Report, WebhookDelivery
from moderation.core.db import db
from moderation.intake import signatures
from tests.factories import make_image, make_platform, report_body, run_worker_burst, signed_headers
from tests.faults.harness import triaged_counts

DAY = 24 * 3600


class _DayLater:
    """The signature check's clock, a day ahead."""

    @staticmethod
    def time() -> float:
        return time.time() + DAY


def _count(app, model) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_ten_concurrent_replays_and_one_a_day_later_make_one_report(
    app, redis_url, tmp_path, monkeypatch
):
    app.config.update(CLASSIFIER_MODEL="", MEDIA_INDEX_DIR=str(tmp_path / "media-index"))
    platform = make_platform(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/api/v1/platforms/{platform.slug}/reports"
    raw = json.dumps(report_body([make_image(4242)])).encode()
    headers = signed_headers(platform.webhook_secret, raw, msg_id="msg_fault_replay")
    barrier = threading.Barrier(10)
    answers: list[tuple[int, dict]] = []

    def deliver() -> None:
        barrier.wait(timeout=30)
        response = requests.post(url, data=raw, headers=headers, timeout=60)
        answers.append((response.status_code, response.json()))

    try:
        threads = [threading.Thread(target=deliver) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
        assert len(answers) == 10, answers
        assert {status for status, _ in answers} == {202}, answers
        assert len({body["id"] for _, body in answers}) == 1, answers
        report_id = answers[0][1]["id"]

        # A day later (the server's clock moved on): the same request as it was is refused by
        # the timestamp window and creates nothing ...
        monkeypatch.setattr(signatures, "time", _DayLater)
        stale = requests.post(url, data=raw, headers=headers, timeout=60)
        assert stale.status_code == 401 and stale.json()["error"] == "stale_timestamp"
        # ... and the sender's retry, re-signed now with the same webhook-id, gets the first
        # answer: the delivery id is remembered, not only for the timestamp window.
        later = signed_headers(
            platform.webhook_secret, raw, msg_id="msg_fault_replay", timestamp=int(_DayLater.time())
        )
        retried = requests.post(url, data=raw, headers=later, timeout=60)
        assert retried.status_code == 202 and retried.json() == answers[0][1], retried.text
    finally:
        server.shutdown()
    assert _count(app, Report) == 1 and _count(app, WebhookDelivery) == 1
    assert _count(app, Media) == 1
    objects = [path for path in Path(app.config["MEDIA_DIR"]).rglob("*.bin")]
    assert len(objects) == 1, "the medium was stored more than once"
    run_worker_burst(app)
    assert triaged_counts(app, [report_id]) == {report_id: 1}
    print("sent / acknowledged / queued / lost / duplicated: 12 / 11 / 1 / 0 / 0 (one delivery)")
