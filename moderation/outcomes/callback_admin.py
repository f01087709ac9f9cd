"""Platforms' callback settings and the admin view of deliveries: the callback URL, the outbound
signing secret and its rotation, and the delivery list. Sending lives in callbacks.py."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models import CallbackDelivery, utcnow
from moderation.audit import events as audit
from moderation.intake.signatures import new_webhook_secret


def set_callback(session: Session, slug: str, url: str | None) -> str | None:
    """Set (or with None clear) a platform's callback URL and commit. A platform without an
    outbound secret gets one, returned so it can be shown once; None if it already had one."""
    from moderation.intake.platforms import get_platform, validate_callback_url

    platform = get_platform(session, slug)
    platform.callback_url = validate_callback_url(url) if url else None
    created = None
    if url and not platform.callback_secret:
        created = platform.callback_secret = new_webhook_secret()
    audit.record(
        session,
        "platform.set_callback",
        actor_kind="cli",
        object_type="platform",
        object_id=platform.id,
        details={"enabled": bool(url)},
    )
    session.commit()
    return created


def rotate_callback_secret(session: Session, slug: str) -> str:
    """A new outbound secret; the old one keeps signing (beside it) for 7 days. Commits."""
    from moderation.intake.platforms import ROTATION_GRACE, get_platform

    platform = get_platform(session, slug)
    if platform.callback_secret:
        platform.previous_callback_secret = platform.callback_secret
        platform.previous_callback_secret_expires_at = utcnow() + ROTATION_GRACE
    platform.callback_secret = new_webhook_secret()
    audit.record(
        session,
        "platform.rotate_callback_secret",
        actor_kind="cli",
        object_type="platform",
        object_id=platform.id,
    )
    session.commit()
    return platform.callback_secret


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[CallbackDelivery]
    page: int
    per_page: int
    total: int


def deliveries_page(
    session: Session, *, state: str | None = None, page: int = 1, per_page: int = 50
) -> DeliveryPage:
    """Newest first, with their attempts, for the admin page."""
    query = select(CallbackDelivery)
    if state:
        query = query.where(CallbackDelivery.state == state)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.options(selectinload(CallbackDelivery.attempt_log))
        .order_by(CallbackDelivery.id.desc())
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    ).scalars()
    return DeliveryPage(list(rows), max(page, 1), per_page, int(total))
