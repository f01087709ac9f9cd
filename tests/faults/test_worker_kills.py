"""Fault: signed reports arrive steadily while triage workers are SIGKILLed at random (the
whole process group, as a host dies) and replaced, as a supervisor would. Every acknowledged
report reaches review exactly once, no medium is stored twice, and the audit chain has no gap.

`make test-faults` (FAULTS_SCALE=full) runs the issue's size: 1,000 reports, 20 kills; by
default a shortened run of the same loop."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from models import Media
from moderation.core.db import db
from tests.factories import make_image, make_platform, report_body
from tests.faults.harness import (
    SWEEP_AFTER,
    SWEEP_EVERY,
    Sender,
    assert_each_reviewed_once,
    kill_group,
    queued_count,
    scaled,
    start_command,
    start_worker_and_cron,
    wait_all_queued,
    wait_until_serving,
    worker_env,
)

DEAD_AFTER = 20  # TRIAGE_DEAD_AFTER_SECONDS (default 45; heartbeats every 10 s)
WORKERS = 2


def test_reports_survive_random_worker_kills(app, client, database_url, redis_server, tmp_path):
    reports, kills = scaled(1000, 120), scaled(20, 4)
    rng = random.Random(int(os.environ.get("FAULTS_SEED", "16")))
    settings = {"TRIAGE_DEAD_AFTER_SECONDS": DEAD_AFTER}
    app.config["RATE_LIMIT_PLATFORM"] = "100000/minute"  # the fault is the kills, not a 429
    first, cron = start_worker_and_cron(app, database_url, redis_server.url(), tmp_path, **settings)
    env = worker_env(
        app,
        database_url,
        redis_server.url(),
        MEDIA_INDEX_DIR=tmp_path / "media-index",
        SWEEP_PENDING_AFTER_SECONDS=SWEEP_AFTER,
        **settings,
    )
    started = [1]

    def new_worker():
        started[0] += 1
        log = tmp_path / f"worker-{started[0]}.log"
        # The same command as the first (every queue, the sweeper's too), as a supervisor does.
        return start_command(["worker", "--log-level", "WARNING"], env, log)

    workers = [first, *[new_worker() for _ in range(WORKERS - 1)]]
    sender = Sender(client, make_platform(app))
    wait_until_serving(redis_server, workers=WORKERS, cron=True)

    def send_all() -> None:
        for number in range(reports):
            sender.send(report_body([make_image(number)]))

    posting = threading.Thread(target=send_all, daemon=True)
    killed_busy = 0
    try:
        posting.start()
        for _ in range(kills):
            # At a random moment while reports arrive and are triaged, one worker dies.
            # Spread over the posting: about 30 s for 120 reports, 60 s for 1,000.
            time.sleep(rng.uniform(0.5, 2.5) * max(1.0, reports / kills / 25))
            victim = rng.randrange(len(workers))
            killed_busy += queued_count(app, sender.acknowledged) < len(sender.acknowledged)
            kill_group(workers[victim])
            workers[victim] = new_worker()
        last_kill = time.monotonic()
        posting.join(timeout=600)
        assert not posting.is_alive(), "intake did not take every report in 10 minutes"
        sender.retry_unacknowledged()
        acknowledged = sender.acknowledged
        posted = time.monotonic()
        bound = DEAD_AFTER + SWEEP_AFTER + 2 * SWEEP_EVERY + 10 + reports * 0.25
        wait_all_queued(app, acknowledged, bound, redis_server.client())
        print(
            f"{kills} kills ({killed_busy} with work waiting), {len(acknowledged)} reports; "
            f"the last posted {posted - last_kill:.1f} s after the last kill, all triaged "
            f"{time.monotonic() - posted:.1f} s after that"
        )
    finally:
        for worker in workers:
            kill_group(worker)
        kill_group(cron)
    outcome = assert_each_reviewed_once(app, sender, media_per_report=1, expected_reports=reports)
    with app.app_context():
        distinct = db.session.execute(select(func.count(func.distinct(Media.sha256)))).scalar_one()
    objects = list(Path(app.config["MEDIA_DIR"]).rglob("*.bin"))
    assert len(objects) == distinct == reports, "a medium stored twice (or not at all)"
    assert outcome.sent == reports


def test_a_job_whose_worker_died_before_the_claim_is_replaced(app, client, redis_server):
    """The narrow windows the random kills hit now and then: a worker popped the job and died
    before claiming the report (still `received`), either before RQ marked the job started
    (it says `queued` but is on no queue: RQ pops from several queues without a safety list,
    so it would never run again) or after (it says `started`). The sweeper replaces the job:
    at once in the first case, once it has been `started` for the dead-after limit in the
    second, not after RQ's own timeout."""
    from datetime import timedelta

    from rq.job import Job, JobStatus
    from rq.serializers import JSONSerializer

    from models import utcnow
    from moderation.core.queueing import queue, triage_job_id
    from tests.factories import post_report
    from tests.faults.harness import sweep

    app.config.update(SWEEP_PENDING_AFTER_SECONDS=0, TRIAGE_DEAD_AFTER_SECONDS=DEAD_AFTER)
    report_id = post_report(client, make_platform(app), report_body()).get_json()["id"]
    connection = redis_server.client()
    job_id = triage_job_id(report_id)
    triage = queue("triage", connection)

    def job() -> Job:
        return Job.fetch(job_id, connection=connection, serializer=JSONSerializer)

    assert sweep(app) == [], "a job waiting on its queue is left there"
    connection.lrem(triage.key, 1, job_id)  # popped by a worker that died at once
    assert job().get_status() == JobStatus.QUEUED
    assert sweep(app) == [report_id]
    assert triage.job_ids == [job_id]

    connection.lrem(triage.key, 1, job_id)  # popped, marked started, then the worker died
    started = job()
    started.started_at = utcnow() - timedelta(seconds=DEAD_AFTER - 5)
    started.set_status(JobStatus.STARTED)
    started.save()
    assert sweep(app) == [], "a job just started is left to its worker"
    started.started_at = utcnow() - timedelta(seconds=DEAD_AFTER + 1)
    started.save()
    assert sweep(app) == [report_id]
    assert job().get_status() == JobStatus.QUEUED and triage.job_ids == [job_id]
