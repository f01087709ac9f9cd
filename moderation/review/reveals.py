"""Reveals: a moderator's deliberate unblur of one medium (whole or a region). Each is an audit
event and a row that the unblurred-image view checks, so unblurred pixels are only ever served to
the person who asked, for a short while, and counted against their daily wellness cap."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Media, MediaReveal, utcnow
from moderation.audit import events as audit
from moderation.core.errors import ConflictError, NotFoundError
from moderation.media.previews import Region
from moderation.review import claims, wellness


@dataclass(frozen=True)
class RevealSettings:
    minutes: float
    wellness: wellness.WellnessSettings
    # Revealing is acting on the item: a moderator who may decide it also claims it (when
    # nobody else holds it) for this long. None: no claim (e.g. a liaison looking).
    claim_minutes: float | None = None


def reveal(
    session: Session, media: Media, user_id: int, region: Region | None, settings: RevealSettings
) -> MediaReveal:
    """Record a reveal of `media` (audited, counted for wellness, claiming the item when
    `settings.claim_minutes` is set and nobody else holds it); commits.

    Raises ConflictError (409, code `on_break`) while the user is on a wellness break.
    """
    if wellness.status(session, user_id, settings.wellness).on_break:
        raise ConflictError("you are on a break: unblurring is paused", code="on_break")
    now = utcnow()
    row = MediaReveal(
        user_id=user_id,
        media_id=media.id,
        report_id=media.report_id,
        region=region.to_dict() if region else None,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.minutes),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "media.reveal",
        actor_user_id=user_id,
        object_type="media",
        object_id=media.id,
        details={
            "report_id": media.report_id,
            "reveal_id": row.id,
            "sha256": media.sha256,
            "region": row.region,
        },
    )
    wellness.count_reveal(session, user_id, settings.wellness)
    if settings.claim_minutes is not None:
        claims.claim(session, media.report_id, user_id, settings.claim_minutes)
    session.commit()
    return row


def live_reveal(session: Session, reveal_id: int, user_id: int) -> MediaReveal:
    """The caller's own unexpired reveal; NotFoundError otherwise (someone else's reveal must
    not even be confirmed to exist)."""
    row = session.execute(
        select(MediaReveal).where(
            MediaReveal.id == reveal_id,
            MediaReveal.user_id == user_id,
            MediaReveal.expires_at > utcnow(),
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError("no such reveal, or it has expired")
    return row


def active_reveals(
    session: Session, report_id: int, user_id: int, shown: Iterable[int]
) -> dict[int, MediaReveal]:
    """The caller's live reveals among `shown` (the ones this visit asked for), per medium.

    A reveal lasts for the visit that made it: reopening the item later, or after deciding
    it, shows the blurred preview again until the moderator reveals once more."""
    wanted = [reveal_id for reveal_id in shown if isinstance(reveal_id, int)]
    if not wanted:
        return {}
    rows = session.execute(
        select(MediaReveal)
        .where(
            MediaReveal.id.in_(wanted),
            MediaReveal.report_id == report_id,
            MediaReveal.user_id == user_id,
            MediaReveal.expires_at > utcnow(),
        )
        .order_by(MediaReveal.id)
    ).scalars()
    return {row.media_id: row for row in rows}
