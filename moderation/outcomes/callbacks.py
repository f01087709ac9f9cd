"""Decision callbacks: tell the platform what became of its report, signed, retried, recorded.

Outbox: `announce` writes a `CallbackDelivery` row in the transaction that makes a decision final
(or reverses it), so nothing is owed without a row and no row exists for an undone decision.
`dispatch_due` (a periodic job) puts a `deliver_callback` job on the `callbacks` queue for each
row that is due; `deliver` claims the row with a guarded UPDATE (a lease, so two workers never
send the same attempt), sends one Standard Webhooks message, records the attempt and schedules
the next one: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (about three days), each
with ±10 % jitter, later if the receiver's Retry-After asks for it. 2xx delivers; 410 Gone
disables the platform's callback; after the last attempt the delivery fails (visible on the admin
page, where it can be redelivered).

At-least-once: a worker killed after the receiver accepted but before the row was updated sends
again; the `webhook-id` is stable per delivery so the receiver dedupes.

What a message carries: the report's id and the platform's own external id, the action, the
policy code, the time. Never text, media, URLs, names or reporter data.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from models import (
    CallbackAttempt,
    CallbackDelivery,
    CallbackEvent,
    Decision,
    DeliveryState,
    Platform,
    Report,
    utcnow,
)
from moderation.audit import events as audit
from moderation.core.errors import ConflictError, NotFoundError
from moderation.intake.signatures import sign_standard
from moderation.media.fetching import FetchError, FetchPolicy, Resolver
from moderation.media.fetching.policy import host_list
from moderation.media.fetching.post import PostAnswer, post_json

# Seconds after each failed attempt before the next; its length is the number of retries.
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
# A Retry-After longer than this is capped: the schedule is about three days in all.
_MAX_RETRY_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class CallbackSettings:
    policy: FetchPolicy = field(default_factory=lambda: FetchPolicy(deadline=15.0))
    schedule: tuple[int, ...] = RETRY_SCHEDULE
    jitter: float = 0.1
    # How long a worker holds a delivery it is attempting: if it dies mid-attempt, the next
    # dispatch round takes the delivery again once this has passed (CALLBACK_LEASE_SECONDS).
    lease: timedelta = timedelta(minutes=2)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CallbackSettings:
        """CALLBACK_ALLOW_HOSTS (like MEDIA_FETCH_ALLOW_HOSTS: `host[:port]` entries exempt
        from the private-address check, for local testing), CALLBACK_TIMEOUT (seconds) and
        CALLBACK_RETRY_SECONDS (the waits after each failed attempt; RETRY_SCHEDULE if unset)
        and CALLBACK_LEASE_SECONDS (at least the timeout: a live attempt must not lose it)."""
        deadline = float(config.get("CALLBACK_TIMEOUT", 15))
        schedule = config.get("CALLBACK_RETRY_SECONDS") or RETRY_SCHEDULE
        if isinstance(schedule, str):
            schedule = [part for part in schedule.split(",") if part.strip()]
        lease = float(config.get("CALLBACK_LEASE_SECONDS", 120))
        if lease <= deadline:
            raise ValueError("CALLBACK_LEASE_SECONDS must be longer than CALLBACK_TIMEOUT")
        return cls(
            schedule=tuple(int(seconds) for seconds in schedule),
            lease=timedelta(seconds=lease),
            policy=FetchPolicy(
                connect_timeout=min(5.0, deadline),
                read_timeout=min(10.0, deadline),
                deadline=deadline,
                max_redirects=0,
                allow_hosts=host_list(config.get("CALLBACK_ALLOW_HOSTS")),
                user_agent="moderation-callbacks/1",
            ),
        )


def signing_secrets(platform: Platform, now: datetime | None = None) -> list[str]:
    """The secrets a callback is signed with now: the current one and, for 7 days after a
    rotation, the previous one too (a receiver holding either verifies)."""
    now = now or utcnow()
    found = [platform.callback_secret] if platform.callback_secret else []
    if (
        platform.previous_callback_secret
        and platform.previous_callback_secret_expires_at
        and platform.previous_callback_secret_expires_at > now
    ):
        found.append(platform.previous_callback_secret)
    return found


def _payload(
    event: CallbackEvent, report: Report, decision: Decision, at: datetime
) -> dict[str, Any]:
    action, _, policy = decision.action.partition(".")
    data: dict[str, Any] = {
        "report_id": report.id,
        "external_id": report.external_id,
        "decision_id": decision.id,
        "action": action,  # remove, no_violation, escalate
        "policy": decision.action,  # the policy code, e.g. remove.ncii
        "decided_at": decision.created_at.isoformat(),
    }
    if event == CallbackEvent.DECISION_REVERSED:
        data["reversed_at"] = at.isoformat()
    return {"type": str(event), "timestamp": at.isoformat(), "data": data}


def announce(
    session: Session,
    report: Report,
    decision: Decision,
    event: CallbackEvent,
    *,
    now: datetime | None = None,
    extra: Mapping[str, Any] | None = None,
    key: str | None = None,
) -> CallbackDelivery | None:
    """Owe the platform a callback for `event` (no commit: the caller's transaction). None when
    the platform has no callback URL. One delivery per decision and event, however often this
    is called."""
    platform = session.get(Platform, report.platform_id)
    if platform is None or not platform.callback_url or not platform.callback_secret:
        return None
    now = now or utcnow()
    # One message per decision and event (`key` for events that can recur, e.g. appeals).
    webhook_id = f"msg_{str(event).replace('.', '_')}_{key or decision.id}"
    existing = session.execute(
        select(CallbackDelivery).where(CallbackDelivery.webhook_id == webhook_id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    payload = _payload(event, report, decision, now)
    if extra:
        payload["data"].update(extra)
    delivery = CallbackDelivery(
        platform_id=platform.id,
        report_id=report.id,
        decision_id=decision.id,
        event=event,
        webhook_id=webhook_id,
        payload=payload,
        next_attempt_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery


def due_deliveries(
    session: Session, now: datetime | None = None, limit: int = 500
) -> list[tuple[int, int]]:
    """(id, attempts so far) of pending deliveries whose next attempt is due and that no worker
    holds, most overdue first."""
    now = now or utcnow()
    return [
        (int(row[0]), int(row[1]))
        for row in session.execute(
            select(CallbackDelivery.id, CallbackDelivery.attempts)
            .where(
                CallbackDelivery.state == DeliveryState.PENDING,
                CallbackDelivery.next_attempt_at <= now,
                or_(CallbackDelivery.claimed_until.is_(None), CallbackDelivery.claimed_until < now),
            )
            .order_by(CallbackDelivery.next_attempt_at)
            .limit(limit)
        )
    ]


def _claim(
    session: Session, delivery_id: int, now: datetime, force: bool, lease: timedelta
) -> bool:
    conditions = [
        CallbackDelivery.id == delivery_id,
        or_(CallbackDelivery.claimed_until.is_(None), CallbackDelivery.claimed_until < now),
    ]
    if not force:
        conditions += [
            CallbackDelivery.state == DeliveryState.PENDING,
            CallbackDelivery.next_attempt_at <= now,
        ]
    claimed = session.execute(
        update(CallbackDelivery)
        .where(*conditions)
        .values(claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return claimed.rowcount == 1


def _retry_after(header: str | None, now: datetime) -> timedelta | None:
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        wait = timedelta(seconds=int(header))
    else:
        try:
            wait = parsedate_to_datetime(header) - now
        except (TypeError, ValueError):
            return None
    return min(max(wait, timedelta(0)), _MAX_RETRY_AFTER)


def _next_attempt(
    settings: CallbackSettings, attempts: int, now: datetime, asked: timedelta | None
) -> datetime | None:
    """When to try again after `attempts` failed tries; None once the schedule is spent."""
    if attempts > len(settings.schedule):
        return None
    base = settings.schedule[attempts - 1]
    wait = timedelta(seconds=base * (1 + random.uniform(-settings.jitter, settings.jitter)))
    return now + max(wait, asked or timedelta(0))


Sender = Callable[[str, bytes, Mapping[str, str], FetchPolicy, Resolver | None], PostAnswer]


@dataclass(frozen=True)
class AttemptResult:
    delivery_id: int
    state: str
    status_code: int | None
    error: str | None


def deliver(
    session: Session,
    delivery_id: int,
    settings: CallbackSettings,
    *,
    requested_by_user_id: int | None = None,
    resolver: Resolver | None = None,
    sender: Sender = post_json,
    now: datetime | None = None,
) -> AttemptResult | None:
    """Make one attempt at a delivery if it is due (any time, with `requested_by_user_id`: an
    admin's redelivery). Commits. None when there was nothing to do (not due, another worker
    holds it, or it no longer exists)."""
    now = now or utcnow()
    forced = requested_by_user_id is not None
    if not _claim(session, delivery_id, now, force=forced, lease=settings.lease):
        return None
    delivery = session.get(CallbackDelivery, delivery_id, populate_existing=True)
    platform = session.get(Platform, delivery.platform_id) if delivery else None
    if delivery is None or platform is None:
        return None
    secrets_now = signing_secrets(platform, now)
    if not platform.callback_url or not secrets_now:
        delivery.state = DeliveryState.DISABLED
        delivery.claimed_until = None
        session.commit()
        return AttemptResult(delivery.id, str(delivery.state), None, "no_callback")
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(now.timestamp())
    headers = {
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign_standard(secret, delivery.webhook_id, timestamp, body) for secret in secrets_now
        ),
    }
    status_code: int | None = None
    error: str | None = None
    retry_after: timedelta | None = None
    latency_ms = 0
    try:
        answer = sender(platform.callback_url, body, headers, settings.policy, resolver)
        status_code, latency_ms = answer.status, answer.latency_ms
        retry_after = _retry_after(answer.retry_after, now)
    except FetchError as exc:
        error = str(exc.code)
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.claimed_until = None
    session.add(
        CallbackAttempt(
            delivery_id=delivery.id,
            attempted_at=now,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
            requested_by_user_id=requested_by_user_id,
        )
    )
    if status_code is not None and 200 <= status_code < 300:
        delivery.state = DeliveryState.DELIVERED
        delivery.delivered_at = now
    elif status_code == 410:
        # The receiver says this endpoint is gone for good: stop calling it at all.
        delivery.state = DeliveryState.DISABLED
        platform.callback_url = None
        audit.record(
            session,
            "platform.callback_disabled",
            actor_kind="system",
            object_type="platform",
            object_id=platform.id,
            details={"delivery_id": delivery.id, "status": 410},
        )
    else:
        following = _next_attempt(settings, delivery.attempts, now, retry_after)
        if following is None:
            delivery.state = DeliveryState.FAILED
        else:
            delivery.state = DeliveryState.PENDING
            delivery.next_attempt_at = following
    if forced:
        audit.record(
            session,
            "callback.redeliver",
            actor_user_id=requested_by_user_id,
            object_type="callback_delivery",
            object_id=delivery.id,
            details={"status": status_code, "error": error},
        )
    session.commit()
    return AttemptResult(delivery.id, str(delivery.state), status_code, error)


def redeliver(
    session: Session, delivery_id: int, user_id: int, settings: CallbackSettings, **kwargs: Any
) -> AttemptResult:
    """An admin's "redeliver": one attempt now, whatever the state (the platform may have
    fixed its endpoint). Raises NotFoundError, or ConflictError while a worker is sending it."""
    if session.get(CallbackDelivery, delivery_id) is None:
        raise NotFoundError("no such delivery")
    result = deliver(session, delivery_id, settings, requested_by_user_id=user_id, **kwargs)
    if result is None:
        raise ConflictError("a worker is sending this delivery right now; try again shortly")
    return result
