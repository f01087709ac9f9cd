"""The platform-facing JSON API. Views parse, call a service, answer; services own the rest.

Rate limits answer 429 with `Retry-After` and the usual JSON error body. There are two budgets so
that nobody without credentials can spend a platform's: requests that fail authentication (401)
count against their address (RATE_LIMIT_UNAUTHENTICATED), and requests that pass it count against
the platform slug (RATE_LIMIT_PLATFORM, RATE_LIMIT_STATUS; not per address: a platform sends from
many hosts). See moderation/config.py.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from moderation.core.db import db
from moderation.core.errors import NotFoundError
from moderation.core.limits import limiter, unauthenticated_failure
from moderation.core.redis_conn import get_redis
from moderation.intake import mastodon, platforms, status
from moderation.intake import service as intake
from moderation.media.store import media_store_for
from moderation.outcomes import appeals
from moderation.settings import settings_for

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
_MAX_REPORT_ID = 2**31 - 1  # reports.id is a 32-bit integer on PostgreSQL


def _platform_key() -> str:
    return "platform:" + str((request.view_args or {}).get("slug", ""))


def _webhook_limit() -> str:
    return str(current_app.config["RATE_LIMIT_PLATFORM"])


def _status_limit() -> str:
    return str(current_app.config["RATE_LIMIT_STATUS"])


def _unauthenticated_limit() -> str:
    return str(current_app.config["RATE_LIMIT_UNAUTHENTICATED"])


def _authenticated(response: Response) -> bool:
    # A 429 did not authenticate either: it was refused before the view (by either budget).
    return response.status_code not in (401, 429)


# Failed authentication, per address, for every API route together: a flood of unsigned POSTs or
# bad tokens uses up only the sender's own budget.
_unauthenticated_rate = limiter.shared_limit(
    _unauthenticated_limit,
    scope="api-unauthenticated",
    deduct_when=unauthenticated_failure,
    error_message="Too many failed authentications from this address; retry later.",
)

# One budget per platform shared by both webhook routes, spent only by authenticated requests.
_webhook_rate = limiter.shared_limit(
    _webhook_limit,
    scope="platform-webhooks",
    key_func=_platform_key,
    deduct_when=_authenticated,
    error_message="Too many requests for this platform; retry after the Retry-After delay.",
)


@bp.post("/platforms/<slug>/reports")
@_unauthenticated_rate
@_webhook_rate
def receive_report(slug: str) -> tuple[Response, int]:
    """Standard Webhooks intake. 401 bad signature or unknown platform (alike, so slugs cannot be
    probed), 404 for a correctly signed delivery to a Mastodon platform,
    400/422 bad body, 413 oversize body, 429 over the platform's rate, 202 accepted (also for a
    replay, with the first answer)."""
    result = intake.receive_webhook(
        db.session,
        media_store_for(current_app.config),
        get_redis(),
        slug,
        {name: request.headers.get(name) for name in _SIGNATURE_HEADERS},
        request.get_data(cache=False),
        settings_for(current_app).intake,
    )
    return jsonify(result.body), result.status_code


@bp.post("/platforms/<slug>/mastodon")
@_unauthenticated_rate
@_webhook_rate
def receive_mastodon(slug: str) -> tuple[Response, int]:
    """Mastodon admin webhook. 401 bad X-Hub-Signature or unknown platform, 404 (once signed) for
    a non-Mastodon platform,
    400/422 bad body, 413 oversize, 429 over the rate, 202 accepted, 200 for ignored events."""
    result = mastodon.receive_mastodon(
        db.session,
        media_store_for(current_app.config),
        get_redis(),
        slug,
        request.headers.get("X-Hub-Signature"),
        request.get_data(cache=False),
        settings_for(current_app).mastodon,
    )
    return jsonify(result.body), result.status_code


@bp.get("/platforms/<slug>/reports/<int:report_id>")
@_unauthenticated_rate
@limiter.limit(
    _status_limit, key_func=_platform_key, scope="platform-status", deduct_when=_authenticated
)
def report_status(slug: str, report_id: int) -> Response:
    """Status of one of the platform's reports. 401 without a valid token; 404 for another
    platform's report or an unknown id."""
    platform = platforms.authenticate_token(db.session, slug, request.headers.get("Authorization"))
    if report_id > _MAX_REPORT_ID:  # larger than the id column: it cannot exist
        raise NotFoundError("no such report")
    return jsonify(status.report_status(db.session, platform, report_id))


@bp.post("/platforms/<slug>/reports/<int:report_id>/appeal")
@_unauthenticated_rate
@_webhook_rate
def receive_appeal(slug: str, report_id: int) -> tuple[Response, int]:
    """An appeal from the person whose content was removed, signed like intake. 202 accepted
    (a replay gets the first answer), 401 bad signature or unknown platform, 404 not this
    platform's report, 409 nothing removed to appeal or an appeal already open, 400/422 body."""
    if report_id > _MAX_REPORT_ID:
        raise NotFoundError("no such report")
    answer = appeals.receive_appeal(
        db.session,
        slug,
        report_id,
        {name: request.headers.get(name) for name in _SIGNATURE_HEADERS},
        request.get_data(cache=False),
        settings_for(current_app).intake,
    )
    return jsonify(answer.body), answer.status_code
