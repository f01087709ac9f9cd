"""The Redis connection for the current app, created on first use (never at import)."""

from __future__ import annotations

from flask import current_app
from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from moderation.core.redis_urls import connect


def redis_from_url(url: str) -> Redis:
    """A client of MODERATION_REDIS_URL, plain or Sentinel (core/redis_urls.py)."""
    # Short timeouts: intake must answer quickly even when Redis is down (the outbox recovers).
    return connect(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


# How long a worker or the cron waits out a Redis that went away (restart, failover) or is full
# (noeviction refuses writes) before giving up (then its supervisor restarts it): 150 tries,
# 2 s apart at most.
PATIENT_RETRIES = 150
PATIENT_BACKOFF_CAP_SECONDS = 2.0


def patient_redis_from_url(url: str) -> Redis:
    """A connection for long-running processes (workers, the cron): a command that finds Redis
    gone, or full, retries with backoff for about five minutes instead of failing at once, so
    a Redis restart or a full Redis pauses them rather than ending them (RQ's worker quits on a
    Redis error anywhere but in its dequeue). Retrying is safe: a refused write (OOM) applied
    nothing, and a refused MULTI/EXEC is discarded whole. Web requests keep the impatient one:
    intake must answer, from the database, at once."""
    return connect(
        url,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
        retry=Retry(
            ExponentialBackoff(cap=PATIENT_BACKOFF_CAP_SECONDS, base=0.25),
            PATIENT_RETRIES,
            supported_errors=(RedisConnectionError, RedisTimeoutError, OutOfMemoryError),
        ),
    )


def get_redis() -> Redis:
    conn = current_app.extensions.get("moderation.redis")
    if conn is None:
        conn = redis_from_url(current_app.config["REDIS_URL"])
        current_app.extensions["moderation.redis"] = conn
    return conn


# The only eviction policy under which Redis never drops a key to make room: with any other, a
# full Redis may silently evict queued jobs (volatile-* ones evict jobs with a TTL, such as
# finished and failed results, and RQ's own bookkeeping). Full under noeviction, writes fail
# loudly instead, intake answers from the database and the sweeper re-enqueues later.
SAFE_EVICTION_POLICY = "noeviction"


class UnsafeRedisError(Exception):
    """Redis is configured so that it may drop jobs; the message says what to change."""


def check_eviction_policy(connection: Redis) -> str | None:
    """Raise UnsafeRedisError unless Redis's `maxmemory-policy` is noeviction. Returns a warning
    (and does not raise) when the policy cannot be read: managed services often disable CONFIG.
    Raises redis errors other than a refused CONFIG (Redis unreachable)."""
    try:
        reply = connection.config_get("maxmemory-policy")
    except ResponseError as exc:  # CONFIG renamed, disabled or not permitted by an ACL
        return (
            f"could not read Redis's maxmemory-policy ({type(exc).__name__}); make sure it is "
            f"{SAFE_EVICTION_POLICY}, or a full Redis may drop queued jobs"
        )
    policy = reply.get("maxmemory-policy") or reply.get(b"maxmemory-policy")
    if isinstance(policy, bytes):
        policy = policy.decode()
    if policy is None:
        return f"Redis did not report its maxmemory-policy; make sure it is {SAFE_EVICTION_POLICY}"
    if policy != SAFE_EVICTION_POLICY:
        raise UnsafeRedisError(
            f"Redis's maxmemory-policy is {policy}, which can evict queued jobs when memory is "
            f"full; set maxmemory-policy {SAFE_EVICTION_POLICY} (CONFIG SET or redis.conf) "
            "before starting workers"
        )
    return None
