"""Digests: what needs a liaison (new cases, cases waiting on them, police requests due and
overdue, referral SLA breaches) and, for seniors and admins who subscribe, the queue (overdue
items per category, the oldest waiting item, escalations waiting for a case, wellness caps);
the sections themselves are moderation/notifications/digest_sections.py. This module decides
who gets one, when, and what counts as news.

Exactly once per period: a scheduled digest's period is the recipient's slot (09:00, or 09:00
and 17:00, in their time zone) and is recorded as one outbox row, unique per recipient and
period, committed before the message goes to SMTP; two cron processes racing record it once.
A digest covers what happened since the previous digest (`covers_until` of the last one not
lost), so a digest skipped or lost rolls into the next. `send --now` records an on-demand
digest whose period is "after digest N": two runs racing record it once, and a second run
straight after finds nothing new (the same items as the digest before) and records nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    DigestSchedule,
    MailKind,
    MailState,
    NotificationPreferences,
    OutgoingMail,
    Role,
    User,
    utcnow,
)
from moderation.notifications import outbox, preferences
from moderation.notifications.digest_sections import iso, liaison_sections, queue_sections
from moderation.notifications.settings import NotificationSettings

SLOT_HOURS = {DigestSchedule.DAILY: (9,), DigestSchedule.TWICE_DAILY: (9, 17)}
LIAISON_ROLES = (Role.LIAISON, Role.ADMIN)
FIRST_WINDOW = timedelta(hours=24)
# States of a digest that count as "the previous digest" (a failed or uncertain one does not,
# so what it would have said rolls into the next).
COUNTED = (MailState.PENDING, MailState.SENDING, MailState.SENT, MailState.SKIPPED)


def _aware(value: datetime | str) -> datetime:
    # Aggregates come back as text or naive on SQLite.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def current_slot(now: datetime, zone: ZoneInfo, schedule: str) -> datetime:
    """The latest scheduled time at or before `now` in `zone` (aware)."""
    local = now.astimezone(zone)
    starts = [
        datetime.combine(local.date() - timedelta(days=back), time(hour), tzinfo=zone)
        for back in (0, 1)
        for hour in SLOT_HOURS[DigestSchedule(schedule)]
    ]
    return max(start for start in starts if start <= local)


def item_keys(sections: dict[str, dict[str, Any]]) -> list[str]:
    """What a digest lists, one key per listed item and count: a digest on demand whose keys
    are all in the previous digest's has nothing new."""
    keys = []
    for name, section in sorted(sections.items()):
        keys.append(f"{name}#count:{section['count']}")
        keys += [f"{name}:{json.dumps(item, sort_keys=True)}" for item in section["items"]]
    return keys


def has_news(content: dict[str, Any], previous: OutgoingMail | None) -> bool:
    if previous is None:
        return True
    before = set(previous.context.get("item_keys") or [])
    # An empty section is no news, whatever it held before.
    return any(key not in before and not key.endswith("#count:0") for key in content["item_keys"])


def _previous(session: Session, user_id: int) -> OutgoingMail | None:
    return session.execute(
        select(OutgoingMail)
        .where(
            OutgoingMail.recipient_key == f"user:{user_id}",
            OutgoingMail.kind == MailKind.DIGEST.value,
            OutgoingMail.state.in_([state.value for state in COUNTED]),
        )
        .order_by(OutgoingMail.covers_until.desc(), OutgoingMail.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def digest_content(
    session: Session,
    user: User,
    prefs: preferences.Preferences,
    settings: NotificationSettings,
    since: datetime,
    until: datetime,
) -> dict[str, Any]:
    """The context of one digest: sections, totals and the recipient's time zone."""
    sections: dict[str, dict[str, Any]] = {}
    if str(user.role) in LIAISON_ROLES:
        sections.update(liaison_sections(session, user, settings, since, until))
    if str(user.role) in preferences.QUEUE_DIGEST_ROLES and prefs.queue_digest:
        sections.update(queue_sections(session, user, settings, since, until))
    return {
        "sections": sections,
        "total": sum(section["count"] for section in sections.values()),
        "time_zone": prefs.time_zone,
        "covers_from": iso(since),
        "covers_until": iso(until),
        "item_keys": item_keys(sections),
    }


def recipients(
    session: Session, settings: NotificationSettings
) -> list[tuple[User, preferences.Preferences]]:
    """Active people who get a digest, with their preferences."""
    rows = session.execute(
        select(User, NotificationPreferences)
        .outerjoin(NotificationPreferences, NotificationPreferences.user_id == User.id)
        .where(User.active.is_(True), User.role.in_([*LIAISON_ROLES, Role.SENIOR]))
        .order_by(User.id)
    ).all()
    chosen = []
    for user, row in rows:
        prefs = preferences.of_row(row, settings)
        if prefs.digest_schedule == DigestSchedule.OFF:
            continue
        if str(user.role) == Role.SENIOR and not prefs.queue_digest:
            continue
        chosen.append((user, prefs))
    return chosen


@dataclass
class RoundResult:
    recorded: list[int] = field(default_factory=list)  # outbox ids to send
    skipped: int = 0  # periods recorded with nothing to say, or nothing new on demand
    already: int = 0  # periods another process (or an earlier run) recorded

    def to_dict(self) -> dict[str, Any]:
        return {"recorded": self.recorded, "skipped": self.skipped, "already": self.already}


def send_round(
    session: Session,
    settings: NotificationSettings,
    *,
    now: datetime | None = None,
    on_demand: bool = False,
) -> RoundResult:
    """Record every digest that is due (`on_demand`: every subscribed recipient's, now) and
    commit each; returns the outbox ids to hand to the `mail` queue. Safe to run in several
    processes at once: each period is recorded by exactly one of them."""
    now = now or utcnow()
    result = RoundResult()
    for user, prefs in recipients(session, settings):
        previous = _previous(session, user.id)
        if on_demand:
            # After the latest digest of any state: one lost to an uncertain send is not the
            # window's start (`previous` is) but its period is taken.
            latest = session.execute(
                select(func.max(OutgoingMail.id)).where(
                    OutgoingMail.recipient_key == f"user:{user.id}",
                    OutgoingMail.kind == MailKind.DIGEST.value,
                )
            ).scalar_one()
            period = f"digest:after:{latest or 0}"
        else:
            slot = current_slot(now, prefs.zone(), prefs.digest_schedule)
            if now - slot > timedelta(hours=settings.digest_grace_hours):
                continue  # missed (cron was down): the next slot's digest covers it
            period = f"digest:slot:{slot.astimezone(UTC):%Y-%m-%dT%H:%MZ}"
        exists = session.execute(
            select(OutgoingMail.id).where(
                OutgoingMail.recipient_key == f"user:{user.id}", OutgoingMail.period == period
            )
        ).first()
        if exists is not None:
            result.already += 1
            continue
        since = previous.covers_until if previous and previous.covers_until else None
        if since is None:
            # No digest counted yet: start a day back, or where a lost (failed, uncertain)
            # one started, so what it would have said is said now.
            lost = session.execute(
                select(func.min(OutgoingMail.covers_from)).where(
                    OutgoingMail.recipient_key == f"user:{user.id}",
                    OutgoingMail.kind == MailKind.DIGEST.value,
                )
            ).scalar_one()
            since = min(_aware(lost), now - FIRST_WINDOW) if lost else now - FIRST_WINDOW
        since = min(since, now)
        content = digest_content(session, user, prefs, settings, since, now)
        state = MailState.PENDING
        if on_demand and not has_news(content, previous):
            result.skipped += 1  # nothing new since the digest before: record nothing
            session.rollback()
            continue
        if not on_demand and content["total"] == 0:
            # Recorded all the same, so the period counts once and the next covers from here.
            state = MailState.SKIPPED
        session.rollback()  # end the read transaction; the record below is its own
        preferences.ensure_row(session, user.id, settings)
        row = outbox.record(
            session,
            settings,
            kind=MailKind.DIGEST,
            recipient_key=f"user:{user.id}",
            user_id=user.id,
            period=period,
            language=prefs.language,
            context=content,
            covers_from=since,
            covers_until=now,
            state=state,
        )
        if row is None:
            result.already += 1
        elif state == MailState.SKIPPED:
            result.skipped += 1
        else:
            result.recorded.append(row.id)
    return result
