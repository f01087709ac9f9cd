"""Fault: a triage worker killed mid-job (SIGKILL, parent and all). Its report must be back on a
queue within two minutes, found by the worker's missing heartbeat, not after the fixed 15-minute
stale limit; a live worker on a slow job must keep its report; and the report reaches review
exactly once. A real `moderation worker` process, a real Redis, the test's database."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from models import Media, Report, ReportStatus
from moderation.core.db import db
from tests.factories import make_image, make_platform, post_report, report_body, run_worker_burst
from tests.faults.harness import (
    StallingMediaHost,
    kill_group,
    report_status,
    start_command,
    sweep,
    wait_for,
    worker_env,
)

PICTURE = make_image(91)
DEAD_AFTER = 20  # seconds without a heartbeat (the default is 45; heartbeats come every 10)


def test_a_killed_workers_report_is_back_on_a_queue_within_two_minutes(
    app, client, database_url, redis_url, tmp_path
):
    stall = StallingMediaHost(PICTURE)
    app.config.update(
        MEDIA_FETCH_ALLOW_HOSTS=f"127.0.0.1:{stall.port}",
        MEDIA_FETCH_TIMEOUT=120,
        TRIAGE_DEAD_AFTER_SECONDS=DEAD_AFTER,
        CLASSIFIER_MODEL="",
        MEDIA_INDEX_DIR=str(tmp_path / "media-index"),
    )
    platform = make_platform(app)
    body = report_body()
    body["content"]["media"] = [{"url": f"http://127.0.0.1:{stall.port}/p.jpg"}]
    report_id = post_report(client, platform, body).get_json()["id"]

    env = worker_env(
        app,
        database_url,
        redis_url,
        MEDIA_INDEX_DIR=tmp_path / "media-index",
        MEDIA_FETCH_ALLOW_HOSTS=f"127.0.0.1:{stall.port}",
        MEDIA_FETCH_TIMEOUT=120,
    )
    worker = start_command(["worker", "triage", "--log-level", "WARNING"], env)
    try:
        wait_for(lambda: stall.requests >= 1, 60, "the worker to start fetching")
        assert report_status(app, report_id) == ReportStatus.TRIAGING
        # Alive but slow: past DEAD_AFTER the heartbeat keeps the report with its worker.
        time.sleep(DEAD_AFTER + 5)
        assert (
            report_id not in sweep(app) and report_status(app, report_id) == ReportStatus.TRIAGING
        )
        kill_group(worker)
        killed_at = time.monotonic()

        def rescued() -> bool:
            return report_id in sweep(app)

        wait_for(rescued, 120, "the sweeper to re-enqueue the report")
        elapsed = time.monotonic() - killed_at
        assert elapsed < 120, elapsed
    finally:
        kill_group(worker)
    stall.hold.clear()  # the media host answers now
    run_worker_burst(app)
    with app.app_context():
        assert db.session.get(Report, report_id).status == ReportStatus.QUEUED
        assert db.session.execute(select(func.count()).select_from(Report)).scalar_one() == 1
        assert db.session.execute(select(func.count()).select_from(Media)).scalar_one() == 1
        from moderation.audit import events as audit

        audit.seal_pending(db.session)
        assert audit.verify_chain(db.session).ok
    stall.server.shutdown()
