"""Intake: authenticate a delivery, validate it, store the report and its encrypted media, commit,
then enqueue triage (the outbox pattern: the database row is the truth; Redis only carries work).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import and_, false, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from models import (
    Media,
    Platform,
    PlatformKind,
    Report,
    ReporterKind,
    ReportStatus,
    WebhookDelivery,
)
from moderation.audit import events as audit
from moderation.core.errors import AuthenticationError, NotFoundError, ValidationError
from moderation.core.queueing import enqueue_triage
from moderation.intake.platforms import get_platform, valid_secrets
from moderation.intake.report_input import ReportInput, channel_of, parse_report
from moderation.intake.signatures import SignatureError, new_webhook_secret, verify_standard
from moderation.media.fetching.sniff import sniff_type
from moderation.media.imaging import md5_hex
from moderation.media.store import MediaStore
from moderation.triage.lane import urgent_reports

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntakeLimits:
    max_media: int = 20
    max_media_bytes: int = 50 * 1024 * 1024
    tolerance_seconds: int = 300
    # Platforms that exist for internal intake (the public portal) and accept no webhooks.
    internal_slugs: tuple[str, ...] = ()


@dataclass(frozen=True)
class IntakeResult:
    status_code: int
    body: dict[str, Any]
    created: bool


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON and PostgreSQL's json type refuses them.
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # 1e999 parses to infinity, which JSON cannot carry back out and PostgreSQL's json refuses.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number is out of range")
    return value


_SURROGATES = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(document: Any) -> bool:
    """True if any string (key or value) in `document` holds a lone UTF-16 surrogate ("\\ud800"
    escaped in JSON): Python accepts it, but it cannot be encoded as UTF-8 for the database."""
    pending = [document]
    while pending:  # iterative: nesting depth is bounded only by json's own recursion limit
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATES.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def decode_json(body: bytes) -> Any:
    """The decoded body; raises ValidationError (400 malformed_json) for anything but JSON that
    can be stored as it came: no NaN or Infinity, no number beyond a double's range, no lone
    surrogate in a string."""
    try:
        document = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            "the body is not valid JSON", code="malformed_json", status=400
        ) from exc
    if _has_lone_surrogate(document):
        raise ValidationError(
            "the body contains an unpaired surrogate (\\ud800-\\udfff); send UTF-8 text",
            code="malformed_json",
            status=400,
        )
    return document


def check_route(
    platform: Platform, route_kinds: tuple[str, ...], internal_slugs: tuple[str, ...] = ()
) -> Platform:
    """`platform` if it may use a route accepting `route_kinds`; raises NotFoundError.

    A Mastodon platform only posts to the Mastodon route and a standard or trusted-flagger one
    only to the standard route; the internal portal platform takes no webhooks at all. Any
    mismatch answers exactly like an unknown platform (404), so routes cannot be used to learn
    which platforms exist.
    """
    if platform.kind not in route_kinds or platform.slug in internal_slugs:
        raise NotFoundError("no such platform")
    return platform


def platform_for_route(
    session: Session, slug: str, route_kinds: tuple[str, ...], internal_slugs: tuple[str, ...] = ()
) -> Platform:
    """The active platform `slug` if it may use a route accepting `route_kinds` (see
    `check_route`); raises NotFoundError."""
    return check_route(get_platform(session, slug), route_kinds, internal_slugs)


# Secrets no platform has, made once per process. A delivery for a slug we do not know is checked
# against them, so it fails exactly as a wrong signature for a known platform does: the same
# checks in the same order, the same answer, the same cost. Slugs cannot be probed.
UNKNOWN_PLATFORM_SECRETS: tuple[str, ...] = (new_webhook_secret(),)


def verify_delivery(
    platform: Platform | None, headers: dict[str, str | None], body: bytes, tolerance: int
) -> None:
    """Raise AuthenticationError unless the Standard Webhooks signature verifies with one of the
    platform's current secrets. `platform` None (an unknown slug) always raises, with the same
    answer a wrong signature gets."""
    try:
        verify_standard(
            valid_secrets(platform) if platform is not None else UNKNOWN_PLATFORM_SECRETS,
            headers.get("webhook-id"),
            headers.get("webhook-timestamp"),
            headers.get("webhook-signature"),
            body,
            tolerance=tolerance,
        )
    except SignatureError as exc:
        raise AuthenticationError(exc.message, code=exc.code) from exc
    if platform is None:  # unreachable unless a random secret was guessed; refuse all the same
        raise AuthenticationError("the signature does not match", code="bad_signature")


def platform_and_previous_answer(
    session: Session, slug: str, delivery_id: str
) -> tuple[Platform, IntakeResult | None]:
    """The active platform `slug` and the answer already given to its delivery `delivery_id`
    (None if new), in one query; raises NotFoundError for an unknown or inactive platform.

    The answer is looked up before the caller verifies the signature (it saves a round trip on
    every delivery) but must not be used, or its existence revealed, until that succeeds.
    """
    # An id that no stored delivery can have (too long, or NUL, which PostgreSQL text refuses)
    # must not reach the database: its signature check fails, or its insert does, as before.
    usable = len(delivery_id) <= 255 and "\x00" not in delivery_id
    same_delivery = WebhookDelivery.delivery_id == delivery_id if usable else false()
    row = session.execute(
        select(Platform, WebhookDelivery.response_status, WebhookDelivery.response_body)
        .outerjoin(WebhookDelivery, and_(WebhookDelivery.platform_id == Platform.id, same_delivery))
        .where(Platform.slug == slug, Platform.active.is_(True))
    ).first()
    if row is None:
        raise NotFoundError("no such platform")
    platform, status, answer = row
    if status is None:
        return platform, None
    return platform, IntakeResult(status, dict(answer), created=False)


def previous_answer(session: Session, platform_id: int, delivery_id: str) -> IntakeResult | None:
    row = session.execute(
        select(WebhookDelivery).where(
            WebhookDelivery.platform_id == platform_id, WebhookDelivery.delivery_id == delivery_id
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    return IntakeResult(row.response_status, dict(row.response_body), created=False)


def store_report(
    session: Session,
    store: MediaStore,
    platform: Platform,
    delivery_id: str,
    report_input: ReportInput,
    source: str = "webhook",
    attach: Callable[[Report], None] | None = None,
    replay_checked: bool = False,
) -> IntakeResult:
    """Create the report once per delivery id and commit; a replay gets the first answer.

    The delivery row (unique per platform and delivery id) is inserted in the same transaction
    as the report, so concurrent replays serialise on that constraint: the losers roll back
    everything they wrote and answer the winner's answer. `attach`, if given, is called with the
    flushed report before the commit, so rows that belong with it (a portal receipt) land in the
    same transaction or not at all. `replay_checked` skips the look-up a caller just made.
    """
    if not replay_checked:
        previous = previous_answer(session, platform.id, delivery_id)
        if previous:
            return previous
    report = Report(
        platform_id=platform.id,
        external_id=report_input.external_id,
        category=report_input.category,
        reporter_kind=report_input.reporter_kind,
        reporter_id=report_input.reporter_id,
        comment=report_input.comment,
        content_url=report_input.content_url,
        content_text=report_input.content_text,
        posted_by_id=report_input.posted_by_id,
        posted_by_handle=report_input.posted_by_handle,
        context=report_input.context,
        channel_id=channel_of(report_input.context),
        reported_at=report_input.reported_at,
        status=ReportStatus.RECEIVED,
    )
    for position, item in enumerate(report_input.media):
        media = Media(position=position, filename=item.filename, source_url=item.url)
        if item.data is not None:
            # Encrypted on the way in; the row only learns the content address.
            # The store addresses objects by their SHA-256, so the key is the first hash.
            media.storage_key = media.sha256 = store.put(item.data)
            media.size_bytes = len(item.data)
            # Facts of the bytes (triage writes the same values); known now, they let a known
            # copy go ahead in triage (see triage/lane.py).
            media.md5 = md5_hex(item.data)
            # What the bytes say they are (never the file name); triage refines it on decode.
            media.mime = sniff_type(item.data)
        report.media.append(media)
    session.add(report)
    session.flush()
    answer = {"id": report.id, "status": ReportStatus.RECEIVED.value}
    previous = _claim_delivery(session, platform, delivery_id, report.id, answer)
    if previous:
        return previous
    if attach is not None:
        attach(report)
    audit.record(
        session,
        "report.received",
        actor_kind="platform",
        object_type="report",
        object_id=report.id,
        details={"platform_id": platform.id, "source": source, "media": len(report_input.media)},
    )
    session.commit()
    return IntakeResult(202, answer, created=True)


def _claim_delivery(
    session: Session, platform: Platform, delivery_id: str, report_id: int, answer: dict[str, Any]
) -> IntakeResult | None:
    """Record the delivery id with its answer (flushed). If a concurrent replay claimed it first,
    roll back and return that replay's answer instead; the unique constraint decides."""
    session.add(
        WebhookDelivery(
            platform_id=platform.id,
            delivery_id=delivery_id,
            report_id=report_id,
            response_status=202,
            response_body=answer,
        )
    )
    try:
        session.flush()
    except IntegrityError:
        session.rollback()  # a concurrent replay won: drop our copy, answer with theirs
        previous = previous_answer(session, platform.id, delivery_id)
        if previous is None:  # the other writer rolled back too; let the sender retry
            raise
        return previous
    return None


def link_delivery_to_report(
    session: Session,
    platform: Platform,
    delivery_id: str,
    report: Report,
    source: str,
    update: Callable[[Report], dict[str, Any]] | None = None,
) -> IntakeResult:
    """Record a delivery that updates a report we already hold, without creating another, and
    commit. A replay of the same delivery gets the first answer and changes nothing.

    `update`, if given, applies the delivery to the report in the same transaction (once the
    delivery is claimed) and returns what changed, as ids and codes for the audit event."""
    previous = previous_answer(session, platform.id, delivery_id)
    if previous:
        return previous
    body = {"id": report.id, "status": ReportStatus(report.status).value}
    previous = _claim_delivery(session, platform, delivery_id, report.id, body)
    if previous:
        return previous
    changes = update(report) if update is not None else {}
    audit.record(
        session,
        "report.upstream_updated",
        actor_kind="platform",
        object_type="report",
        object_id=report.id,
        details={"platform_id": platform.id, "source": source, **changes},
    )
    session.commit()
    return IntakeResult(202, body, created=False)


def enqueue_after_commit(
    session: Session, redis: Redis, report_id: int, report_input: ReportInput
) -> bool:
    """Enqueue triage of a committed report, on the urgent queue if it goes ahead of the rest
    (see triage/lane.py). If Redis is down, the sweeper picks the report up later; if
    the lane cannot be decided (the database failed after the commit), it waits in the
    ordinary queue rather than fail an accepted report."""
    # Without bytes at intake (text, media by URL) there is no known copy yet: no query.
    inline = any(item.data is not None for item in report_input.media)
    try:
        pair = (report_id, report_input.reporter_kind)
        urgent = report_id in urgent_reports(session, [pair], known_copies=inline)
    except SQLAlchemyError as exc:
        session.rollback()
        log.warning("triage lane undecided for report %s: %s", report_id, type(exc).__name__)
        urgent = False
    try:
        enqueue_triage(redis, report_id, urgent=urgent)
    except RedisError as exc:
        log.warning("triage enqueue deferred for report %s: %s", report_id, type(exc).__name__)
        return False
    return True


def receive_webhook(
    session: Session,
    store: MediaStore,
    redis: Redis,
    slug: str,
    headers: dict[str, str | None],
    body: bytes,
    limits: IntakeLimits,
) -> IntakeResult:
    """The whole platform-webhook intake. Raises DomainError subclasses for bad requests.

    A trusted-flagger platform's reports are always of reporter kind `trusted_flagger`, whatever
    the body says: that is their priority lane (see moderation/triage/policy.py). An unknown slug
    answers 401 like a bad signature; a platform that does not use this route answers 404, but
    only once its signature verified.
    """
    delivery_id = headers.get("webhook-id") or ""
    try:
        platform, previous = platform_and_previous_answer(session, slug, delivery_id)
    except NotFoundError:
        # Before authentication an unknown slug answers like a bad signature (401), never 404.
        verify_delivery(None, headers, body, limits.tolerance_seconds)
        raise
    verify_delivery(platform, headers, body, limits.tolerance_seconds)
    # Only a sender holding the platform's secret learns that it uses another route (404).
    check_route(
        platform, (PlatformKind.STANDARD, PlatformKind.TRUSTED_FLAGGER), limits.internal_slugs
    )
    if previous:
        return previous
    report_input = parse_report(
        decode_json(body), max_media=limits.max_media, max_media_bytes=limits.max_media_bytes
    )
    if platform.kind == PlatformKind.TRUSTED_FLAGGER:
        report_input = replace(report_input, reporter_kind=ReporterKind.TRUSTED_FLAGGER)
    result = store_report(session, store, platform, delivery_id, report_input, replay_checked=True)
    if result.created:
        enqueue_after_commit(session, redis, result.body["id"], report_input)
    return result
