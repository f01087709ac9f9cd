"""Fault: Redis loses everything mid-run (`redis-cli SHUTDOWN NOSAVE`) and comes back empty.
Intake keeps acknowledging (the report is in the database; the enqueue is deferred), the worker
and the cron ride out the outage, and after the restart the sweeper re-enqueues every
acknowledged report within its period: each reaches review exactly once, nothing is lost."""

from __future__ import annotations

import time
from collections import Counter

from tests.factories import make_image, make_platform, report_body
from tests.faults.harness import (
    SWEEP_AFTER,
    SWEEP_EVERY,
    Sender,
    all_queued,
    assert_each_reviewed_once,
    kill_group,
    queued_count,
    scaled,
    start_worker_and_cron,
    wait_for,
    wait_until_serving,
)


def test_nothing_acknowledged_is_lost_when_redis_restarts_empty(
    app, client, database_url, redis_server, tmp_path
):
    worker, cron = start_worker_and_cron(app, database_url, redis_server.url(), tmp_path)
    sender = Sender(client, make_platform(app))
    wait_until_serving(redis_server, workers=1, cron=True)
    batch = scaled(100, 15)
    seed = iter(range(10_000))
    try:
        for _ in range(batch):
            sender.send(report_body([make_image(next(seed))]))
        untriaged = len(sender.acknowledged) - queued_count(app, sender.acknowledged)
        # Jobs still waiting in Redis vanish with it; some report may be mid-triage.
        redis_server.shutdown_nosave()
        before = Counter(sender.answers)
        for _ in range(batch):
            sender.send(report_body([make_image(next(seed))]))
        down_answers = dict(sender.answers - before)
        time.sleep(SWEEP_EVERY)  # long enough for the worker and the cron to notice
        redis_server.start()
        restarted = time.monotonic()
        for _ in range(batch // 2):
            sender.send(report_body([make_image(next(seed))]))
        sender.retry_unacknowledged()
        acknowledged = sender.acknowledged
        # Within the sweeper's period: pending for SWEEP_AFTER, then the next sweep, then triage.
        bound = SWEEP_AFTER + 2 * SWEEP_EVERY + 30
        wait_for(all_queued(app, acknowledged), bound, "every acknowledged report triaged")
        print(f"all {len(acknowledged)} triaged {time.monotonic() - restarted:.1f} s after restart")
        assert worker.poll() is None, "the worker quit during the Redis outage (worker.log)"
        assert cron.poll() is None, "the cron quit during the Redis outage (cron.log)"
    finally:
        kill_group(worker)
        kill_group(cron)
    print(f"answers while Redis was down: {down_answers}; {untriaged} untriaged at the shutdown")
    assert sender.missing_retry_after == 0, "a 503 without Retry-After"
    assert_each_reviewed_once(app, sender, media_per_report=1)
