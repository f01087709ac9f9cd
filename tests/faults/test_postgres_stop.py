"""Fault: PostgreSQL stopped mid-run (`pg_ctl stop -m immediate`, a private cluster this test
starts; never the shared service), then started again. While it is down intake answers 503 with
Retry-After and writes nothing; a delivery whose answer was lost is retried by its sender with the
same webhook-id and gets one report; workers and the cron survive, back off and resume; nothing is
half-written; every acknowledged report reaches review exactly once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from models import Base, Report, WebhookDelivery
from moderation.core.db import db, make_engine
from tests.factories import make_image, make_platform, report_body
from tests.faults.harness import (
    SWEEP_AFTER,
    SWEEP_EVERY,
    PostgresCluster,
    Sender,
    all_queued,
    assert_each_reviewed_once,
    kill_group,
    make_app,
    postgres_missing,
    scaled,
    start_worker_and_cron,
    wait_for,
    wait_until_serving,
)

DEAD_AFTER = 10  # TRIAGE_DEAD_AFTER_SECONDS: a report whose triage died with the database


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    missing = postgres_missing()
    if missing:
        pytest.skip(f"no private PostgreSQL for this fault: {missing}")
    pg = PostgresCluster()
    try:
        yield pg
    finally:
        pg.close()


def test_postgres_stopped_mid_run_loses_and_duplicates_nothing(cluster, redis_server, tmp_path):
    engine = make_engine(cluster.url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = make_app(cluster.url, redis_server.url(), tmp_path)
    client = app.test_client()
    worker, cron = start_worker_and_cron(
        app, cluster.url, redis_server.url(), tmp_path, TRIAGE_DEAD_AFTER_SECONDS=DEAD_AFTER
    )
    sender = Sender(client, make_platform(app))
    wait_until_serving(redis_server, workers=1, cron=True)
    seed = iter(range(10_000))
    stop_sending = threading.Event()

    def keep_sending(limit: int) -> None:
        # One platform posting steadily through the outage (bounded by `limit` deliveries).
        for _ in range(limit):
            if stop_sending.is_set():
                return
            sender.send(report_body([make_image(next(seed))]))
            time.sleep(0.02)

    batch = scaled(200, 30)
    try:
        keep_sending(batch // 2)
        steady = threading.Thread(target=keep_sending, args=(batch * 10,), daemon=True)
        steady.start()
        time.sleep(0.5)
        cluster.stop("immediate")  # mid-request, mid-triage
        stopped = time.monotonic()
        time.sleep(SWEEP_EVERY)
        down = {code: n for code, n in sender.answers.items() if code != 202}
        cluster.start()
        restarted = time.monotonic()
        time.sleep(2)
        stop_sending.set()
        steady.join(timeout=60)
        sender.retry_unacknowledged(attempts=10, pause=1.0)
        acknowledged = sender.acknowledged
        assert len(acknowledged) == len(sender.deliveries), sender.figures()
        bound = DEAD_AFTER + SWEEP_AFTER + 2 * SWEEP_EVERY + 40
        wait_for(all_queued(app, acknowledged), bound, "every acknowledged report triaged")
        print(
            f"down {restarted - stopped:.1f} s; all {len(acknowledged)} triaged "
            f"{time.monotonic() - restarted:.1f} s after the restart"
        )
        assert worker.poll() is None, "the worker quit during the database outage (worker.log)"
        assert cron.poll() is None, "the cron quit during the database outage (cron.log)"
    finally:
        stop_sending.set()
        kill_group(worker)
        kill_group(cron)
    print(f"answers other than 202: {down}; {sender.figures()}")
    assert down.get(503), "no delivery met the outage: the test did not test it"
    assert set(sender.answers) <= {202, 503}, sender.answers
    assert sender.missing_retry_after == 0, "a 503 without Retry-After"
    assert_each_reviewed_once(app, sender, media_per_report=1)
    with app.app_context():
        # One delivery row per report: nothing written by a request that answered 503 survives
        # except through its own delivery (the retry then got that first answer).
        reports = db.session.execute(select(func.count()).select_from(Report)).scalar_one()
        deliveries = db.session.execute(
            select(func.count()).select_from(WebhookDelivery)
        ).scalar_one()
        assert reports == deliveries == len(sender.deliveries)
    app.extensions["moderation.db"][0].dispose()
