"""Fault: PostgreSQL stopped mid-run (`pg_ctl stop -m immediate`, a private cluster this test
starts; never the shared service), then started again. While it is down intake answers 503 with
Retry-After and writes nothing; a delivery whose answer was lost is retried by its sender with the
same webhook-id and gets one report; workers and the cron survive, back off and resume; nothing is
half-written; every acknowledged report reaches review exactly once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from models import Base, Media, Report, WebhookDelivery
from moderation.core.db import db, make_engine
from moderation.intake import service
from tests.factories import make_image, make_platform, report_body, signed_headers
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


@pytest.fixture
def pg_app(cluster, redis_server, tmp_path):
    """The app on the private cluster, with our schema."""
    engine = make_engine(cluster.url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = make_app(cluster.url, redis_server.url(), tmp_path)
    app.config["RATE_LIMIT_PLATFORM"] = "100000/minute"  # the fault is the outage, not a 429
    yield app
    app.extensions["moderation.db"][0].dispose()


def test_the_database_dying_after_a_commit_does_not_break_the_answer(pg_app, cluster, monkeypatch):
    """The database stops between a delivery's last query and the end of the request (the
    report is committed; the session still holds a connection): the answer is still sent,
    202, instead of the session's clean-up raising (a 500 from the server, or a dropped
    connection). While it is down the next delivery answers 503 with Retry-After; once it is
    back a replay of the first gets the first answer and the second makes its own report."""
    platform = make_platform(pg_app)
    enqueue_after_commit = service.enqueue_after_commit

    def enqueue_then_stop(*args, **kwargs):
        enqueued = enqueue_after_commit(*args, **kwargs)  # its lane query is the last one
        cluster.stop("immediate")
        return enqueued

    monkeypatch.setattr(service, "enqueue_after_commit", enqueue_then_stop)
    client = pg_app.test_client()
    url = f"/api/v1/platforms/{platform.slug}/reports"
    first = json.dumps(report_body([make_image(77)])).encode()
    first_headers = signed_headers(platform.webhook_secret, first, msg_id="msg_committed")
    answered = client.post(url, data=first, headers=first_headers)
    assert answered.status_code == 202, answered.data
    monkeypatch.undo()
    second = json.dumps(report_body([make_image(78)])).encode()
    second_headers = signed_headers(platform.webhook_secret, second, msg_id="msg_while_down")
    refused = client.post(url, data=second, headers=second_headers)
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert refused.get_json()["error"] == "database_unavailable"
    cluster.start()
    replay = client.post(url, data=first, headers=first_headers)
    assert replay.status_code == 202 and replay.get_json() == answered.get_json()
    assert client.post(url, data=second, headers=second_headers).status_code == 202
    with pg_app.app_context():
        assert db.session.execute(select(func.count()).select_from(Report)).scalar_one() == 2
        assert db.session.execute(select(func.count()).select_from(Media)).scalar_one() == 2


def test_postgres_stopped_mid_run_loses_and_duplicates_nothing(
    pg_app, cluster, redis_server, tmp_path
):
    app = pg_app
    client = app.test_client()
    worker, cron = start_worker_and_cron(
        app, cluster.url, redis_server.url(), tmp_path, TRIAGE_DEAD_AFTER_SECONDS=DEAD_AFTER
    )
    sender = Sender(client, make_platform(app))
    wait_until_serving(redis_server, workers=1, cron=True)
    seed = iter(range(10_000))
    stop_sending = threading.Event()

    crashed: list[BaseException] = []

    def keep_sending(limit: int) -> None:
        # One platform posting steadily through the outage (bounded by `limit` deliveries).
        try:
            for _ in range(limit):
                if stop_sending.is_set():
                    return
                sender.send(report_body([make_image(next(seed))]))
                time.sleep(0.005)
        except Exception as exc:  # noqa: BLE001 - a request that raised instead of answering
            crashed.append(exc)

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
        assert not crashed, f"a request raised instead of answering: {crashed[0]!r}"
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
