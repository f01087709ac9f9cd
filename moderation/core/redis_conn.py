"""The Redis connection for the current app, created on first use (never at import)."""

from __future__ import annotations

from flask import current_app
from redis import Redis


def redis_from_url(url: str) -> Redis:
    # Short timeouts: intake must answer quickly even when Redis is down (the outbox recovers).
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


def get_redis() -> Redis:
    conn = current_app.extensions.get("moderation.redis")
    if conn is None:
        conn = redis_from_url(current_app.config["REDIS_URL"])
        current_app.extensions["moderation.redis"] = conn
    return conn
