"""Fault: Redis full under `noeviction` (writes refused with OOM, nothing evicted). Intake still
answers (202 once the report is in the database, else 503 with Retry-After); once memory is
freed the sweeper enqueues what the full Redis refused and each acknowledged report reaches
review exactly once. And workers refuse to start against a Redis whose eviction policy could
drop jobs; a Redis that hides CONFIG gets a warning, not a refusal."""

from __future__ import annotations

import subprocess
import time
from collections import Counter

import pytest
from redis.exceptions import OutOfMemoryError

from tests.factories import make_image, make_platform, report_body
from tests.faults.harness import (
    SWEEP_EVERY,
    RedisServer,
    Sender,
    StallingMediaHost,
    after_the_fault,
    assert_each_reviewed_once,
    assert_still_running,
    kill_group,
    scaled,
    start_command,
    start_worker_and_cron,
    wait_for,
    wait_until_serving,
    worker_env,
)

FILLER = b"x" * 64 * 1024


def _fill(server: RedisServer) -> int:
    """Write filler keys until Redis refuses with OOM; returns how many it took."""
    connection = server.client()
    for number in range(10_000):
        try:
            connection.set(f"filler:{number}", FILLER)
        except OutOfMemoryError:
            return number
    raise AssertionError("Redis never filled up: is maxmemory set?")


@pytest.mark.parametrize("redis_server", [("--maxmemory", "8mb")], indirect=True)
def test_intake_answers_and_nothing_is_lost_while_redis_is_full(
    app, client, database_url, redis_server, tmp_path
):
    # The worker is busy on a slow media host while Redis fills: it meets the full Redis when
    # it finishes that job and takes the next, as a busy worker would.
    host = StallingMediaHost(make_image(9999))
    worker, cron = start_worker_and_cron(
        app,
        database_url,
        redis_server.url(),
        tmp_path,
        MEDIA_FETCH_ALLOW_HOSTS=f"127.0.0.1:{host.port}",
    )
    app.config["MEDIA_FETCH_ALLOW_HOSTS"] = f"127.0.0.1:{host.port}"
    sender = Sender(client, make_platform(app))
    wait_until_serving(redis_server, workers=1, cron=True)
    batch = scaled(100, 15)
    seed = iter(range(10_000))
    try:
        slow = report_body()
        slow["content"]["media"] = [{"url": f"http://127.0.0.1:{host.port}/slow.jpg"}]
        sender.send(slow)
        wait_for(lambda: host.requests >= 1, 60, "the worker to take the slow report")
        for _ in range(batch):
            sender.send(report_body([make_image(next(seed))]))
        fillers = _fill(redis_server)
        before = Counter(sender.answers)
        for _ in range(batch):
            sender.send(report_body([make_image(next(seed))]))
        full_answers = dict(sender.answers - before)
        host.hold.clear()  # the worker finishes, then meets the full Redis
        time.sleep(SWEEP_EVERY)  # and so does the cron
        redis_server.client().delete(*[f"filler:{number}" for number in range(fillers)])
        freed = time.monotonic()
        bodies = (report_body([make_image(next(seed))]) for _ in range(batch // 2))
        acknowledged = after_the_fault(app, sender, bodies)
        print(f"all {acknowledged} triaged {time.monotonic() - freed:.1f} s after freeing")
        assert_still_running("while Redis was full", worker=worker, cron=cron)
    finally:
        host.hold.clear()
        kill_group(worker)
        kill_group(cron)
        host.server.shutdown()
    print(f"answers while Redis was full: {full_answers} ({fillers} x 64 KiB filled it)")
    assert set(full_answers) <= {202, 503}, full_answers
    assert sender.missing_retry_after == 0, "a 503 without Retry-After"
    assert_each_reviewed_once(app, sender, media_per_report=1)


def _run_worker(
    app, database_url: str, server: RedisServer, tmp_path
) -> subprocess.CompletedProcess:
    env = worker_env(app, database_url, server.url(), MEDIA_INDEX_DIR=tmp_path / "media-index")
    process = start_command(["worker", "--burst"], env, tmp_path / "burst.log")
    try:
        process.wait(timeout=60)
    finally:
        kill_group(process)
    return subprocess.CompletedProcess(
        process.args, process.returncode, (tmp_path / "burst.log").read_text(errors="replace")
    )


@pytest.mark.parametrize("redis_server", [("--maxmemory-policy", "allkeys-lru")], indirect=True)
def test_a_worker_refuses_a_redis_that_may_evict_jobs(app, database_url, redis_server, tmp_path):
    finished = _run_worker(app, database_url, redis_server, tmp_path)
    assert finished.returncode not in (0, None), finished.stdout
    assert "maxmemory-policy is allkeys-lru" in finished.stdout
    assert "noeviction" in finished.stdout and "Traceback" not in finished.stdout
    # A policy that only evicts keys with a TTL still evicts RQ's: refused too.
    redis_server.client().config_set("maxmemory-policy", "volatile-lru")
    finished = _run_worker(app, database_url, redis_server, tmp_path)
    assert finished.returncode not in (0, None) and "volatile-lru" in finished.stdout
    redis_server.client().config_set("maxmemory-policy", "noeviction")
    finished = _run_worker(app, database_url, redis_server, tmp_path)
    assert finished.returncode == 0, finished.stdout


@pytest.mark.parametrize("redis_server", [("--rename-command", "CONFIG", "")], indirect=True)
def test_a_worker_warns_when_redis_hides_its_config(app, database_url, redis_server, tmp_path):
    finished = _run_worker(app, database_url, redis_server, tmp_path)
    assert finished.returncode == 0, finished.stdout
    assert "warning: could not read Redis's maxmemory-policy" in finished.stdout
