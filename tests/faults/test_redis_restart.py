"""Fault: Redis loses everything mid-run (`redis-cli SHUTDOWN NOSAVE`) and comes back empty.
Intake keeps acknowledging (the report is in the database; the enqueue is deferred), the worker
and the cron ride out the outage, and after the restart the sweeper re-enqueues every
acknowledged report within its period: each reaches review exactly once, nothing is lost."""

from __future__ import annotations

import time
from collections import Counter

from tests.factories import make_image, make_platform, report_body
from tests.faults.harness import (
    SWEEP_EVERY,
    Sender,
    after_the_fault,
    assert_each_reviewed_once,
    assert_still_running,
    kill_group,
    queued_count,
    scaled,
    start_worker_and_cron,
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
        bodies = (report_body([make_image(next(seed))]) for _ in range(batch // 2))
        acknowledged = after_the_fault(app, sender, bodies)
        print(f"all {acknowledged} triaged {time.monotonic() - restarted:.1f} s after restart")
        assert_still_running("during the Redis outage", worker=worker, cron=cron)
    finally:
        kill_group(worker)
        kill_group(cron)
    print(f"answers while Redis was down: {down_answers}; {untriaged} untriaged at the shutdown")
    assert sender.missing_retry_after == 0, "a 503 without Retry-After"
    assert_each_reviewed_once(app, sender, media_per_report=1)
