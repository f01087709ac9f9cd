"""Each person's notification preferences: language, time zone, digest schedule, urgent alerts
and (seniors and admins) the queue digest. A person without a row has the defaults."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import DigestSchedule, NotificationPreferences, Role, User
from moderation.audit import events as audit
from moderation.core.errors import NotFoundError, ValidationError
from moderation.notifications.settings import NotificationSettings

LANGUAGES = ("en", "ko")
QUEUE_DIGEST_ROLES = (Role.SENIOR, Role.ADMIN)


@dataclass(frozen=True)
class Preferences:
    language: str
    time_zone: str
    digest_schedule: str
    urgent_alerts: bool
    queue_digest: bool

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def _defaults(settings: NotificationSettings) -> Preferences:
    language = settings.default_language if settings.default_language in LANGUAGES else "en"
    return Preferences(
        language, settings.default_time_zone, DigestSchedule.DAILY.value, True, False
    )


def of_row(row: NotificationPreferences | None, settings: NotificationSettings) -> Preferences:
    if row is None:
        return _defaults(settings)
    return Preferences(
        row.language, row.time_zone, str(row.digest_schedule), row.urgent_alerts, row.queue_digest
    )


def get(session: Session, user_id: int, settings: NotificationSettings) -> Preferences:
    return of_row(session.get(NotificationPreferences, user_id), settings)


def _row(session: Session, user_id: int, settings: NotificationSettings) -> NotificationPreferences:
    """The person's row, created with the defaults if missing (no commit)."""
    row = session.get(NotificationPreferences, user_id)
    if row is None:
        base = _defaults(settings)
        row = NotificationPreferences(
            user_id=user_id,
            language=base.language,
            time_zone=base.time_zone,
            digest_schedule=base.digest_schedule,
            urgent_alerts=base.urgent_alerts,
            queue_digest=base.queue_digest,
            unsubscribe_key=secrets.token_urlsafe(24),
        )
        session.add(row)
        session.flush()
    return row


def unsubscribe_key_of(session: Session, user_id: int) -> str:
    """The random value this person's unsubscribe links carry (the row exists: a digest is
    recorded only after `ensure_row`)."""
    row = session.get(NotificationPreferences, user_id)
    if row is None:
        raise NotFoundError("no preferences")
    return row.unsubscribe_key


def ensure_row(session: Session, user_id: int, settings: NotificationSettings) -> None:
    """Create the person's row if missing and commit (a race with another creator is fine:
    the loser finds the winner's row)."""
    try:
        _row(session, user_id, settings)
        session.commit()
    except IntegrityError:
        session.rollback()


def time_zones() -> list[str]:
    return sorted(available_timezones() - {"localtime", "Factory"})


def save(
    session: Session,
    user_id: int,
    settings: NotificationSettings,
    *,
    language: str,
    time_zone: str,
    digest_schedule: str,
    urgent_alerts: bool,
    queue_digest: bool = False,
) -> Preferences:
    """Save a person's preferences; commits and audits. Raises ValidationError for an unknown
    language, time zone or schedule; NotFoundError for an unknown user. The queue digest is
    kept off for roles that do not get it."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("no such user")
    if language not in LANGUAGES:
        raise ValidationError("the language must be en or ko", code="invalid_preferences")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("unknown time zone", code="invalid_preferences") from None
    if digest_schedule not in {schedule.value for schedule in DigestSchedule}:
        raise ValidationError("unknown digest schedule", code="invalid_preferences")
    row = _row(session, user_id, settings)
    row.language, row.time_zone = language, time_zone
    row.digest_schedule = DigestSchedule(digest_schedule)
    row.urgent_alerts = bool(urgent_alerts)
    row.queue_digest = bool(queue_digest) and str(user.role) in QUEUE_DIGEST_ROLES
    audit.record(
        session,
        "notifications.preferences",
        actor_user_id=user_id,
        object_type="user",
        object_id=user_id,
        details={
            "language": language,
            "digest_schedule": digest_schedule,
            "urgent_alerts": row.urgent_alerts,
            "queue_digest": row.queue_digest,
        },
    )
    session.commit()
    return of_row(row, settings)


def unsubscribe(session: Session, key: str) -> bool:
    """Turn digests off for the person whose links carry `key`; commits. False if no one's do
    (the caller answers the same either way)."""
    row = session.execute(
        select(NotificationPreferences).where(NotificationPreferences.unsubscribe_key == key)
    ).scalar_one_or_none()
    if row is None:
        return False
    if row.digest_schedule != DigestSchedule.OFF or row.queue_digest:
        row.digest_schedule, row.queue_digest = DigestSchedule.OFF, False
        audit.record(
            session,
            "notifications.unsubscribe",
            actor_user_id=None,
            actor_kind="link",
            object_type="user",
            object_id=row.user_id,
            details={},
        )
        session.commit()
    return True
