"""Receipts of the public report portal, and contact data sealed (encrypted) at rest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class PortalReceipt(Base):
    """What a person who filed a report on the portal holds: a random receipt number and a PIN.

    Only the PIN's argon2 hash is kept. The receipt number is random (not derived from the report
    id), so knowing one does not help guess another.
    """

    __tablename__ = "portal_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    pin_hash: Mapped[str] = mapped_column(String(255))
    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SealedContact(Base):
    """Personal contact data for a report, AES-GCM encrypted under a key derived from MEDIA_KEY.

    `purpose` says whose data it is (`portal_contact`: how a victim asked to be reached;
    `mastodon_reporter`: a Mastodon reporter's email and IPs, kept only when the operator opts
    in). The plaintext never appears in logs, audit details or API answers.
    """

    __tablename__ = "sealed_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    # b"SC1" | nonce (12 bytes) | ciphertext+tag; the associated data binds report id and purpose.
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
