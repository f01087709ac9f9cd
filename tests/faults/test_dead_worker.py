"""Fault: a triage worker killed mid-job (SIGKILL, parent and all). Its report must be back on a
queue within two minutes, found by the worker's missing heartbeat, not after the fixed 15-minute
stale limit; a live worker on a slow job must keep its report; and the report reaches review
exactly once. A real `moderation worker` process, a real Redis, the test's database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import func, select

from models import Media, Report, ReportStatus
from moderation.core.db import db
from moderation.core.redis_conn import get_redis
from moderation.settings import settings_for
from moderation.triage import sweeper
from tests.conftest import TEST_MEDIA_KEY
from tests.factories import make_image, make_platform, post_report, report_body, run_worker_burst

PICTURE = make_image(91)
DEAD_AFTER = 20  # seconds without a heartbeat (the default is 45; heartbeats come every 10)


class _Stall:
    """Serves PICTURE, but holds each request while `hold` is set (a slow media host)."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.hold.set()
        self.requests = 0
        stall = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                stall.requests += 1
                deadline = time.monotonic() + 120
                while stall.hold.is_set() and time.monotonic() < deadline:
                    time.sleep(0.2)
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(PICTURE)))
                self.end_headers()
                self.wfile.write(PICTURE)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _wait(condition, seconds: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.5)
    return time.monotonic() - started


def _status(app, report_id: int) -> str:
    with app.app_context():
        return db.session.execute(select(Report.status).where(Report.id == report_id)).scalar_one()


def _sweep(app) -> list[int]:
    with app.app_context():
        return sweeper.sweep_pending(db.session, get_redis(), settings_for(app).sweep)


def test_a_killed_workers_report_is_back_on_a_queue_within_two_minutes(
    app, client, database_url, redis_url, tmp_path
):
    stall = _Stall()
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

    env = {key: value for key, value in os.environ.items() if not key.startswith("MODERATION_")}
    env.update(
        MODERATION_ENV="development",
        MODERATION_DATABASE_URL=database_url,
        MODERATION_REDIS_URL=redis_url,
        MODERATION_SECRET_KEY=app.config["SECRET_KEY"],
        MODERATION_MEDIA_KEY=TEST_MEDIA_KEY,
        MODERATION_MEDIA_DIR=app.config["MEDIA_DIR"],
        MODERATION_BANK_INDEX_DIR=app.config["BANK_INDEX_DIR"],
        MODERATION_MEDIA_INDEX_DIR=str(tmp_path / "media-index"),
        MODERATION_MEDIA_FETCH_ALLOW_HOSTS=f"127.0.0.1:{stall.port}",
        MODERATION_MEDIA_FETCH_TIMEOUT="120",
        MODERATION_CLASSIFIER_MODEL="",
        MODERATION_EVIDENCE_SIGNING_KEY=str(app.config.get("EVIDENCE_SIGNING_KEY") or ""),
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "moderation", "worker", "triage", "--log-level", "WARNING"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=True,  # its own process group: killed whole, as a host dies
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(lambda: stall.requests >= 1, 60, "the worker to start fetching")
        assert _status(app, report_id) == ReportStatus.TRIAGING
        # Alive but slow: past DEAD_AFTER the heartbeat keeps the report with its worker.
        time.sleep(DEAD_AFTER + 5)
        assert report_id not in _sweep(app) and _status(app, report_id) == ReportStatus.TRIAGING
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = time.monotonic()

        def rescued() -> bool:
            return report_id in _sweep(app)

        _wait(rescued, 120, "the sweeper to re-enqueue the report")
        elapsed = time.monotonic() - killed_at
        assert elapsed < 120, elapsed
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
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
