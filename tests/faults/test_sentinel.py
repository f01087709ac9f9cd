"""Fault: the Redis primary dies (SIGKILL) mid-run under Sentinel. The test starts a primary, a
replica and three sentinels (`redis-server --sentinel`); the app, a worker and the cron reach
Redis through MODERATION_REDIS_URL=redis+sentinel://…/mq/0. Sentinel promotes the replica;
intake keeps acknowledging (from the database), the worker and the cron follow the new primary
without a restart, and every acknowledged report reaches review exactly once (what replication
had not copied yet, the sweeper re-enqueues from the database)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from moderation.core.localservices import free_port, start_redis_server, wait_for_port
from moderation.core.redis_urls import connect
from tests.factories import make_image, make_platform, report_body
from tests.faults.harness import (
    Sender,
    after_the_fault,
    assert_each_reviewed_once,
    assert_still_running,
    kill_group,
    scaled,
    start_worker_and_cron,
    wait_for,
)

MASTER = "mq"


class SentinelGroup:
    """A primary, one replica and three sentinels on free loopback ports."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="moderation-fault-sentinel-"))
        self.processes: list[subprocess.Popen] = []
        (self.directory / "primary").mkdir()
        (self.directory / "replica").mkdir()
        self.primary, self.primary_port = start_redis_server(self.directory / "primary")
        replica, self.replica_port = start_redis_server(
            self.directory / "replica", options=("--replicaof", "127.0.0.1", str(self.primary_port))
        )
        self.processes += [self.primary, replica]
        self.sentinel_ports = [free_port() for _ in range(3)]
        for port in self.sentinel_ports:
            config = self.directory / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\n"
                f"sentinel failover-timeout {MASTER} 5000\n"
            )
            self.processes.append(
                subprocess.Popen(
                    [shutil.which("redis-server") or "redis-server", str(config), "--sentinel"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            assert wait_for_port(port), "a sentinel did not start"
        wait_for(self._replicated, 30, "the replica to sync and the sentinels to see it")

    def url(self, db: int = 0) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{MASTER}/{db}"

    def master_port(self) -> int:
        sentinel = Redis(port=self.sentinel_ports[0], socket_timeout=2)
        return int(sentinel.sentinel_get_master_addr_by_name(MASTER)[1])

    def _replicated(self) -> bool:
        replica = Redis(port=self.replica_port, socket_timeout=2)
        linked = replica.info("replication").get("master_link_status") == "up"
        sentinel = Redis(port=self.sentinel_ports[0], socket_timeout=2)
        known = sentinel.sentinel_master(MASTER)
        return linked and known.get("num-slaves", 0) >= 1 and known.get("num-other-sentinels") == 2

    def kill_primary(self) -> None:
        self.primary.send_signal(signal.SIGKILL)
        self.primary.wait(timeout=10)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def sentinels() -> Iterator[SentinelGroup]:
    group = SentinelGroup()
    try:
        yield group
    finally:
        group.close()


@pytest.fixture
def redis_url(sentinels: SentinelGroup) -> str:
    """The app, the worker and the cron all use the Sentinel URL."""
    return sentinels.url()


def test_nothing_acknowledged_is_lost_when_the_primary_fails_over(
    app, client, database_url, sentinels, redis_url, tmp_path
):
    from rq import Worker

    worker, cron = start_worker_and_cron(app, database_url, redis_url, tmp_path)
    sender = Sender(client, make_platform(app))
    connection = connect(redis_url)
    wait_for(lambda: Worker.count(connection=connection) >= 1, 60, "the worker to start")
    batch = scaled(100, 15)
    seed = iter(range(20_000))
    try:
        for _ in range(batch):
            sender.send(report_body([make_image(next(seed))]))
        old_port = sentinels.master_port()
        sentinels.kill_primary()
        killed = time.monotonic()
        before = Counter(sender.answers)
        for _ in range(batch):
            sender.send(report_body([make_image(next(seed))]))
        during = dict(sender.answers - before)
        took = wait_for(lambda: sentinels.master_port() != old_port, 60, "Sentinel to fail over")
        assert sentinels.master_port() == sentinels.replica_port
        bodies = (report_body([make_image(next(seed))]) for _ in range(batch // 2))
        acknowledged = after_the_fault(app, sender, bodies, slack=60)
        print(
            f"failover {took:.1f} s after the kill; all {acknowledged} triaged "
            f"{time.monotonic() - killed:.1f} s after it; answers meanwhile: {during}"
        )
        assert_still_running("during the failover", worker=worker, cron=cron)
    finally:
        kill_group(worker)
        kill_group(cron)
    assert sender.missing_retry_after == 0, "a 503 without Retry-After"
    assert_each_reviewed_once(app, sender, media_per_report=1)
