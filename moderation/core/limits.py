"""Rate limits (Flask-Limiter on Redis), shared by the API, the public report form and sign-in.

Limits are declared next to the views with `limiter.limit(...)`; a 429 answer carries
`Retry-After` and, in the API, the usual JSON error body.
"""

from __future__ import annotations

from flask import Flask, Response
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from moderation.core.redis_urls import parse_sentinel_url

limiter = Limiter(key_func=get_remote_address, headers_enabled=True, strategy="moving-window")


def init_limiter(app: Flask) -> None:
    sentinel = parse_sentinel_url(app.config["REDIS_URL"])
    if sentinel is None:
        app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    else:
        # limits spells Sentinel without a database: the database goes in the options.
        uri, options = sentinel.limiter_uri()
        app.config.setdefault("RATELIMIT_STORAGE_URI", uri)
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", options)
    # If Redis is down, each process keeps counting in its own memory (the same limits, so at
    # most one budget per process) instead of letting every request through: sign-in and the
    # public portal stay throttled. It returns to Redis once Redis answers again.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    # Last resort: an error the fallback cannot absorb must not refuse intake.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)


def unauthenticated_failure(response: Response) -> bool:
    """`deduct_when` for budgets of failed authentication: only a 401 costs."""
    return response.status_code == 401
