"""Registrations on /protect: a person's hashes of their own photos, held in the victim-submitted
bank under a case number and PIN, withdrawable at any time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.bank import BigId
from models.base import Base, utcnow


class ProtectRegistration(Base):
    """One person's registration: a random case number, the argon2 hash of a PIN shown once,
    what they fear (a category code) and, if they gave one, how to reach them (AES-GCM sealed,
    never logged). No image is ever stored: only hashes, through `hashes`."""

    __tablename__ = "protect_registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    pin_hash: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(32))
    consented_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
    # b"SC1" | nonce | ciphertext+tag (moderation/core/sealing.py), bound to this row's id.
    contact_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)

    hashes: Mapped[list[ProtectHash]] = relationship(
        back_populates="registration", passive_deletes=True
    )


class ProtectHash(Base):
    """A registration's claim on one bank entry (a PDQ or MD5 of one chosen image).

    Two people can register the same photo; they share the bank entry, each with a row here, so
    withdrawing one registration withdraws the entry only when no other active claim holds it,
    and neither person learns of the other. `added_at` bounds the matches a person is shown to
    those after their own registration of the hash.
    """

    __tablename__ = "protect_hashes"
    __table_args__ = (
        UniqueConstraint("registration_id", "bank_entry_id"),
        Index("ix_protect_hashes_entry_active", "bank_entry_id", "withdrawn_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("protect_registrations.id", ondelete="CASCADE"), index=True
    )
    bank_entry_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("bank_entries.id", ondelete="CASCADE")
    )
    signal_type: Mapped[str] = mapped_column(String(16))
    # Which chosen image (0, 1, ...) of the registration the hash came from, to count images.
    image_index: Mapped[int] = mapped_column(default=0)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]

    registration: Mapped[ProtectRegistration] = relationship(back_populates="hashes")
