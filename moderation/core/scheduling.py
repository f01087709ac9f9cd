"""Periodic jobs, enqueued with the JSON serializer.

RQ 3's own cron (`rq.cron`) enqueues with the pickle serializer and no way to change it, which
our JSON-only workers refuse, so this small loop does the same job: each period, whoever takes the
Redis lock for that period enqueues it. Any number of `moderation cron` processes can run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from moderation.core.queueing import (
    DISPATCH_CALLBACKS,
    FINALIZE_DECISIONS,
    MAINTAIN_BANK_INDEX,
    RESCORE_AGING_REPORTS,
    SEAL_AUDIT_LOG,
    SEND_ALERTS,
    SEND_DIGESTS,
    SHRED_EXPIRED_MEDIA,
    SWEEP_PENDING,
    JobSpec,
    enqueue,
)

log = logging.getLogger(__name__)


def periodic_jobs(config: Mapping[str, Any]) -> list[tuple[JobSpec, int]]:
    return [
        (SWEEP_PENDING, int(config["CRON_SWEEP_INTERVAL_SECONDS"])),
        (SEAL_AUDIT_LOG, int(config["CRON_AUDIT_SEAL_INTERVAL_SECONDS"])),
        (MAINTAIN_BANK_INDEX, int(config.get("CRON_BANK_INDEX_INTERVAL_SECONDS", 300))),
        (FINALIZE_DECISIONS, int(config.get("CRON_FINALIZE_INTERVAL_SECONDS", 10))),
        (DISPATCH_CALLBACKS, int(config["CRON_CALLBACK_INTERVAL_SECONDS"])),
        (RESCORE_AGING_REPORTS, int(config["CRON_RESCORE_INTERVAL_SECONDS"])),
        (SHRED_EXPIRED_MEDIA, int(config["CRON_RETENTION_INTERVAL_SECONDS"])),
        # Urgent alerts, status notices and lost messages; digests whose time has come.
        (SEND_ALERTS, int(config["CRON_ALERT_INTERVAL_SECONDS"])),
        (SEND_DIGESTS, int(config["CRON_DIGEST_INTERVAL_SECONDS"])),
    ]


def run_due_jobs(
    connection: Redis, config: Mapping[str, Any], now: float | None = None
) -> list[str]:
    """Enqueue each periodic job once per period; returns the functions enqueued."""
    current = time.time() if now is None else now
    enqueued = []
    for spec, interval in periodic_jobs(config):
        period = int(current // interval)
        lock = f"moderation:cron:{spec.func}:{period}"
        if connection.set(lock, "1", nx=True, ex=interval * 2):
            enqueue(spec, connection, job_id=f"cron-{spec.func.rsplit('.', 1)[-1]}-{period}")
            enqueued.append(spec.func)
    return enqueued


def run_cron(connection: Redis, config: Mapping[str, Any], once: bool = False) -> None:
    """The `moderation cron` loop: enqueue what is due every CRON_TICK_SECONDS (5), forever (or
    once). A tick that finds Redis unavailable is skipped with a warning, not fatal: a periodic
    job missed during an outage is enqueued by the next tick after it (the sweeper then finds
    what the outage left behind). With `once`, the error is raised."""
    while True:
        try:
            run_due_jobs(connection, config)
        except RedisError as exc:
            if once:
                raise
            log.warning("cron tick skipped, Redis unavailable: %s", type(exc).__name__)
        if once:
            return
        time.sleep(float(config.get("CRON_TICK_SECONDS", 5)))
