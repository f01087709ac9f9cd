"""Mastodon's admin webhook (`report.created`, `report.updated`) mapped onto our report.

Mastodon posts `{"event", "created_at", "object"}` where `object` is an Admin::Report: `id`,
`category` (spam, legal, violation, other), `comment`, `created_at`, `updated_at`, `account` (the
reporter) and `target_account` (the reported person), both Admin::Account with `email`, `ip`,
`ips[]` and a public `account` inside; `statuses[]` (REST::Status with HTML `content`,
`spoiler_text`, `url`, `media_attachments[]`) and `rules[]` (`id`, `text`, `hint`).

Mapping:
- statuses' text (HTML parsed with the standard library, not regular expressions) -> content.text;
  the first status URL (else the reported profile) -> content.url;
- media_attachments of type image, video or gifv -> media by URL (`url`, else `remote_url`);
  anything else (audio, unknown, a URL that is not http(s)) is skipped and counted in context;
- target_account -> posted_by (id, acct); the reporter's account id -> reporter id, kind `user`;
- category: `spam` -> `other`; `violation`, `legal` and `other` -> `other` unless the text of a
  cited rule names a harm we know (mastodon_payload.CATEGORY_HINTS: child abuse, intimate
  imagery, deepfakes, doxxing, sexual harassment, incitement; English and Korean), in that order.
Mastodon sends no delivery id, so a delivery is identified by (event, report id, updated_at); a
repeat is a replay. A `report.updated` for a report we hold is recorded against it and creates
nothing new, but brings its upstream facts up to date (`apply_update`): Mastodon's category and
cited rules in the context, and our category if the new mapping is more severe. An update never
lowers our category (that is for our staff to judge; a report once suspected of showing a child
stays restricted to CSAM_ROLES), and statuses added upstream are counted in the audit event, not
fetched. A raised category is re-scored at once (a job); one raised to suspected CSAM is hidden
from roles outside CSAM_ROLES from that moment. The reporter's email and IP history are dropped
unless MASTODON_KEEP_REPORTER_PII is on, in which case they are sealed (encrypted) beside the
report; the reported account's email and IPs are never kept. Other events (a webhook subscribed
to more than reports) are acknowledged with 200 and ignored, so Mastodon does not retry them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from models import CATEGORY_SEVERITY, Platform, PlatformKind, Report, ReportStatus
from moderation.core.errors import AuthenticationError, NotFoundError
from moderation.core.queueing import enqueue_rescore
from moderation.core.sealing import add_sealed_contact
from moderation.intake import service as intake
from moderation.intake.mastodon_payload import (
    REPORTER_PII_PURPOSE,
    UPSTREAM_CONTEXT_KEYS,
    parse_mastodon,
)
from moderation.intake.platforms import get_platform, valid_secrets
from moderation.intake.report_input import (
    ReportInput,
)
from moderation.intake.signatures import SignatureError, verify_hub
from moderation.media.store import MediaStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MastodonSettings:
    max_media: int = 20
    keep_reporter_pii: bool = False
    contact_key: bytes = b""


@dataclass
class AppliedUpdate:
    """What `apply_update` changed: `changes` for the audit event (codes and counts only, never
    text, names or addresses) and, if the category was raised, the report's status then."""

    changes: dict[str, Any] = field(default_factory=dict)
    raised_status: str | None = None


def apply_update(session: Session, report: Report, upstream: ReportInput) -> AppliedUpdate:
    """Apply a `report.updated` to a report we hold (flushed, not committed).

    The category is raised by one conditional UPDATE, so two updates racing cannot lower it,
    and it returns the row's status as it is at that moment (on PostgreSQL after a triage
    committing meanwhile), which says whether the report needs a new score.
    """
    applied = AppliedUpdate()
    context = dict(report.context or {})
    refreshed = [key for key in UPSTREAM_CONTEXT_KEYS if context.get(key) != upstream.context[key]]
    for key in refreshed:
        context[key] = upstream.context[key]
    held = set(context.get("status_ids") or [])
    added = [sid for sid in upstream.context["status_ids"] if sid not in held]
    if refreshed:
        report.context = context
        applied.changes["refreshed"] = refreshed
    if added:
        applied.changes["statuses_not_fetched"] = len(added)
    mapped = upstream.category
    if mapped != report.category:
        less_severe = CATEGORY_SEVERITY[: CATEGORY_SEVERITY.index(mapped)]
        row = session.execute(
            update(Report)
            .where(Report.id == report.id, Report.category.in_(less_severe))
            .values(category=mapped)
            .returning(Report.status)
            .execution_options(synchronize_session=False)
        ).first()
        if row is not None:
            applied.changes["category"] = {"from": report.category, "to": mapped}
            applied.raised_status = row.status
            set_committed_value(report, "category", mapped)
        else:
            applied.changes["upstream_category"] = mapped  # kept: lowering is for our staff
    session.flush()
    return applied


# A raised category needs a new score once triage has claimed the report; before that, triage
# reads the category itself (and re-reads it under the cluster lock before scoring).
_RESCORE_STATUSES = (ReportStatus.TRIAGING, ReportStatus.QUEUED, ReportStatus.IN_REVIEW)


def _rescore_later(redis: Redis, report_id: int) -> None:
    try:
        enqueue_rescore(redis, report_id)
    except RedisError as exc:
        # The aging pass re-scores it within CRON_RESCORE_INTERVAL_SECONDS (it compares the
        # stored category reason with the row).
        log.warning("re-score deferred for report %s: %s", report_id, type(exc).__name__)


def receive_mastodon(
    session: Session,
    store: MediaStore,
    redis: Redis,
    slug: str,
    signature: str | None,
    body: bytes,
    settings: MastodonSettings,
) -> intake.IntakeResult:
    """The whole Mastodon intake: verify X-Hub-Signature, map, dedupe, store, enqueue.

    Raises AuthenticationError (a bad signature, or an unknown slug, answered alike),
    NotFoundError (a correctly signed delivery for a platform that is not a Mastodon one),
    ValidationError. Answers 202 with the report, or 200 `ignored` for non-report events.
    """
    try:
        platform: Platform | None = get_platform(session, slug)
    except NotFoundError:
        platform = None  # answered below exactly like a bad signature: slugs cannot be probed
    try:
        verify_hub(
            valid_secrets(platform) if platform else intake.UNKNOWN_PLATFORM_SECRETS,
            signature,
            body,
        )
    except SignatureError as exc:
        raise AuthenticationError(exc.message, code=exc.code) from exc
    if platform is None:
        raise AuthenticationError("the signature does not match", code="bad_signature")
    # Authenticated: a standard platform may learn that it does not use this route (404).
    intake.check_route(platform, (PlatformKind.MASTODON,))
    parsed = parse_mastodon(intake.decode_json(body), settings.max_media)
    if parsed is None:
        return intake.IntakeResult(200, {"status": "ignored"}, created=False)
    previous = intake.previous_answer(session, platform.id, parsed.delivery_id)
    if previous:
        return previous
    existing = session.execute(
        select(Report)
        .where(Report.platform_id == platform.id, Report.external_id == parsed.remote_id)
        .order_by(Report.id)
        .limit(1)
    ).scalar_one_or_none()
    if existing is not None:
        applied = AppliedUpdate()

        def refresh(report: Report) -> dict[str, Any]:
            nonlocal applied
            applied = apply_update(session, report, parsed.report_input)
            return applied.changes

        result = intake.link_delivery_to_report(
            session, platform, parsed.delivery_id, existing, source="mastodon", update=refresh
        )
        if applied.raised_status in _RESCORE_STATUSES:
            _rescore_later(redis, existing.id)
        return result

    def seal_reporter(report: Report) -> None:
        if settings.keep_reporter_pii and parsed.reporter_pii:
            add_sealed_contact(
                session, settings.contact_key, report.id, REPORTER_PII_PURPOSE, parsed.reporter_pii
            )

    result = intake.store_report(
        session,
        store,
        platform,
        parsed.delivery_id,
        parsed.report_input,
        source="mastodon",
        attach=seal_reporter,
        replay_checked=True,
    )
    if result.created:
        intake.enqueue_after_commit(session, redis, result.body["id"], parsed.report_input)
    return result
