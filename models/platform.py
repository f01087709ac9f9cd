"""Reporting platforms: who may send us reports, and how their requests are authenticated."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class PlatformKind(StrEnum):
    STANDARD = "standard"
    MASTODON = "mastodon"
    TRUSTED_FLAGGER = "trusted_flagger"


class Platform(Base):
    __tablename__ = "platforms"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[PlatformKind] = mapped_column(String(32), default=PlatformKind.STANDARD)
    # SHA-256 of the bearer token: a database leak must not hand out API access.
    api_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Inbound signing secrets are needed in clear to verify HMACs. Two may be valid at once so a
    # platform can rotate without dropping deliveries.
    webhook_secret: Mapped[str] = mapped_column(String(255))
    previous_webhook_secret: Mapped[str | None] = mapped_column(String(255))
    previous_secret_expires_at: Mapped[datetime | None]
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    # Outbound: the secret our decision callbacks are signed with (the platform verifies them),
    # and during a rotation the previous one, still signed with until it expires.
    callback_secret: Mapped[str | None] = mapped_column(String(255))
    previous_callback_secret: Mapped[str | None] = mapped_column(String(255))
    previous_callback_secret_expires_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One accepted delivery, keyed by the sender's `webhook-id`: the idempotency record.

    A replay returns the stored answer instead of creating anything.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("platform_id", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(255))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    response_status: Mapped[int] = mapped_column(default=202)
    response_body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
