"""Moderator wellness: per-day counts of reveals and minutes of exposure, a break when a daily cap
is reached (image items are not served during it), and per-user preview preferences."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import ExposureDay, ReviewPreferences, utcnow
from moderation.audit import events as audit
from moderation.core.locks import insert_for
from moderation.media.previews import PreviewOptions

# A heartbeat counts at most this much looking; a tab left open overnight must not count hours.
HEARTBEAT_SECONDS = 30


@dataclass(frozen=True)
class WellnessSettings:
    daily_reveals: int = 60
    daily_exposure_minutes: int = 90
    break_minutes: int = 15

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WellnessSettings:
        return cls(
            daily_reveals=int(config["WELLNESS_DAILY_REVEALS"]),
            daily_exposure_minutes=int(config["WELLNESS_DAILY_EXPOSURE_MINUTES"]),
            break_minutes=int(config["WELLNESS_BREAK_MINUTES"]),
        )


@dataclass(frozen=True)
class WellnessStatus:
    reveals: int
    exposure_minutes: int
    break_until: datetime | None
    settings: WellnessSettings

    @property
    def on_break(self) -> bool:
        return self.break_until is not None and self.break_until > utcnow()

    @property
    def images_allowed(self) -> bool:
        return not self.on_break


def _today_row(session: Session, user_id: int) -> ExposureDay:
    """Today's counter row, created if missing (insert-or-nothing, so racing requests agree)."""
    today = utcnow().date()
    session.execute(
        insert_for(session, ExposureDay)
        .values(user_id=user_id, day=today, reveals=0, exposure_seconds=0, breaks_taken=0)
        .on_conflict_do_nothing(index_elements=["user_id", "day"])
    )
    row = session.execute(
        select(ExposureDay).where(ExposureDay.user_id == user_id, ExposureDay.day == today)
    ).scalar_one()
    session.refresh(row)
    return row


def status(session: Session, user_id: int, settings: WellnessSettings) -> WellnessStatus:
    """Today's counts for `user_id` (no writes when there is no row yet)."""
    row = session.execute(
        select(ExposureDay).where(
            ExposureDay.user_id == user_id, ExposureDay.day == utcnow().date()
        )
    ).scalar_one_or_none()
    if row is None:
        # A break taken just before midnight still holds: look at yesterday's row too.
        row = session.execute(
            select(ExposureDay)
            .where(ExposureDay.user_id == user_id, ExposureDay.break_until > utcnow())
            .limit(1)
        ).scalar_one_or_none()
        if row is None:
            return WellnessStatus(0, 0, None, settings)
        return WellnessStatus(0, 0, row.break_until, settings)
    return WellnessStatus(row.reveals, row.exposure_seconds // 60, row.break_until, settings)


def _maybe_start_break(session: Session, row: ExposureDay, settings: WellnessSettings) -> None:
    over = row.reveals >= settings.daily_reveals or (
        row.exposure_seconds >= settings.daily_exposure_minutes * 60
    )
    now = utcnow()
    # One break per crossing: a new one starts only once the last is over and a cap is still hit
    # after more looking; the counters are per day, so after a break the cap stays reached and
    # each further reveal or minute of looking earns another break.
    if over and (row.break_until is None or row.break_until <= now):
        row.break_until = now + timedelta(minutes=settings.break_minutes)
        row.breaks_taken += 1
        audit.record(
            session,
            "wellness.break",
            actor_kind="system",
            object_type="user",
            object_id=row.user_id,
            details={"reveals": row.reveals, "exposure_seconds": row.exposure_seconds},
        )


def count_reveal(session: Session, user_id: int, settings: WellnessSettings) -> None:
    """Add one reveal to today's count and start a break at the cap (no commit: the caller
    commits it with the reveal it counts)."""
    row = _today_row(session, user_id)
    session.execute(
        update(ExposureDay)
        .where(ExposureDay.id == row.id)
        .values(reveals=ExposureDay.reveals + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    _maybe_start_break(session, row, settings)


def heartbeat(session: Session, user_id: int, settings: WellnessSettings) -> WellnessStatus:
    """Count exposure while a revealed image is on screen: the page beats every
    HEARTBEAT_SECONDS; each beat adds the time since the previous one, at most one period.
    Commits and returns the new status."""
    now = utcnow()
    row = _today_row(session, user_id)
    elapsed = HEARTBEAT_SECONDS
    if row.last_beat_at is not None:
        elapsed = int(min(HEARTBEAT_SECONDS, max(0.0, (now - row.last_beat_at).total_seconds())))
    row.exposure_seconds += elapsed
    row.last_beat_at = now
    _maybe_start_break(session, row, settings)
    session.commit()
    return status(session, user_id, settings)


def preferences(session: Session, user_id: int) -> PreviewOptions:
    """The user's preview defaults: blurred and greyscale unless they chose otherwise."""
    row = session.get(ReviewPreferences, user_id)
    return PreviewOptions(blur=row.blur, greyscale=row.greyscale) if row else PreviewOptions()


def save_preferences(session: Session, user_id: int, options: PreviewOptions) -> None:
    """Store the user's preview defaults; audited; commits."""
    row = session.get(ReviewPreferences, user_id)
    if row is None:
        row = ReviewPreferences(user_id=user_id)
        session.add(row)
    row.blur, row.greyscale = options.blur, options.greyscale
    audit.record(
        session,
        "preferences.update",
        actor_user_id=user_id,
        object_type="user",
        object_id=user_id,
        details={"blur": options.blur, "greyscale": options.greyscale},
    )
    session.commit()
