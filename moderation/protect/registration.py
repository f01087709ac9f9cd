"""Registrations on /protect: hashes in, a case number and PIN out; matches seen, images added
and everything withdrawn with them.

The browser hashes the photos (static/js/pdq.js, static/js/md5.js); this module only ever sees
a PDQ, its quality and an MD5 per image, and puts them in the victim-submitted bank with the
registration as their source. Two people may register the same photo: they share the bank
entry through separate claims (models/protect.py), neither can tell, and the entry stops
matching when the last claim on it is withdrawn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    Bank,
    BankEntry,
    BankHit,
    BankKind,
    Category,
    EntryStatus,
    ProtectHash,
    ProtectRegistration,
    Report,
    Signal,
    SignalKind,
    SignalType,
    utcnow,
)
from moderation.accounts.passwords import hash_password, verify_password
from moderation.audit import events as audit
from moderation.banks.index import lock_entry_writes
from moderation.banks.matching import MIN_PDQ_QUALITY
from moderation.banks.service import add_entry, create_bank
from moderation.core.errors import ConflictError, DomainError, ValidationError
from moderation.core.sealing import seal
from moderation.intake.portal import new_pin, new_receipt_number, normalise_receipt_number

CONTACT_PURPOSE = "protect_contact"
MAX_CONTACT = 500
# What a person may say they fear; codes are the report categories triage already weighs.
CATEGORIES = (Category.NCII, Category.SYNTHETIC_SEXUAL, Category.OTHER)
# A PDQ sets exactly the bits above its median, so a real picture has 128 of 256 set; far
# fewer means ties everywhere, i.e. a flat picture, whatever quality a client claims.
MIN_PDQ_BITS = 96
_HEX = frozenset("0123456789abcdef")


class CaseNotFound(DomainError):
    """No registration matches that case number and PIN (the two are not told apart)."""

    status = 404
    code = "case_not_found"


@dataclass(frozen=True)
class ProtectSettings:
    bank_name: str = "protect-registrations"
    # Images per registration over its whole life (each image is a PDQ and an MD5 entry).
    max_images: int = 20
    contact_key: bytes = b""


@dataclass(frozen=True)
class ChosenImage:
    """What the browser sends for one image: never the image."""

    pdq: str
    quality: int
    md5: str


@dataclass(frozen=True)
class Submission:
    images: tuple[ChosenImage, ...]
    category: str
    consent: bool
    contact: str | None = None


@dataclass(frozen=True)
class CaseReceipt:
    number: str
    pin: str
    registration_id: int


@dataclass(frozen=True)
class CaseView:
    """What the holder of a case number and PIN may see: counts and dates, nothing else."""

    number: str
    created_at: datetime
    withdrawn_at: datetime | None
    images: int
    max_images: int
    match_count: int
    match_dates: tuple[date, ...]  # the day of each matching report, newest first

    @property
    def can_add(self) -> int:
        return 0 if self.withdrawn_at else max(0, self.max_images - self.images)


def parse_images(raw: str | None) -> tuple[ChosenImage, ...]:
    """The images of a form's `hashes` field (JSON `[{"pdq", "quality", "md5"}, ...]`).

    Raises ValidationError (`bad_hashes`) for anything else: the field is written by our own
    script, so a malformed one is a tampered or broken client, not a person's mistake.
    """
    try:
        items = json.loads(raw or "[]")
    except ValueError:
        raise ValidationError("the hashes are not valid JSON", code="bad_hashes") from None
    if not isinstance(items, list) or len(items) > 1000:
        raise ValidationError("the hashes must be a list", code="bad_hashes")
    images = []
    for item in items:
        if not isinstance(item, dict):
            raise ValidationError("each image is an object", code="bad_hashes")
        pdq, md5, quality = item.get("pdq"), item.get("md5"), item.get("quality")
        if not (_is_hex(pdq, 64) and _is_hex(md5, 32)):
            raise ValidationError("each image has a PDQ and an MD5 in hex", code="bad_hashes")
        if not isinstance(quality, int) or isinstance(quality, bool) or not 0 <= quality <= 100:
            raise ValidationError("each image has a PDQ quality 0-100", code="bad_hashes")
        images.append(ChosenImage(pdq.lower(), quality, md5.lower()))
    return tuple(images)


def _is_hex(value: Any, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and set(value.lower()) <= _HEX


def is_flat(image: ChosenImage) -> bool:
    """Too plain to recognise: PDQ quality under the matching gate, or a degenerate hash."""
    return image.quality < MIN_PDQ_QUALITY or int(image.pdq, 16).bit_count() < MIN_PDQ_BITS


def _checked(images: Sequence[ChosenImage], room: int) -> list[ChosenImage]:
    unique = list(dict.fromkeys(images))  # the same photo chosen twice counts once
    if not unique:
        raise ValidationError("choose at least one photo", code="no_images")
    if len(unique) > room:
        raise ValidationError("too many photos for one registration", code="too_many_images")
    if any(is_flat(image) for image in unique):
        raise ValidationError("a photo is too plain to recognise", code="flat_image")
    return unique


def victim_bank(session: Session, settings: ProtectSettings) -> Bank:
    """The victim-submitted bank registrations go to, created on first use."""
    query = select(Bank).where(Bank.name == settings.bank_name)
    found = session.execute(query).scalar_one_or_none()
    if found is not None:
        return found
    try:
        create_bank(
            session,
            settings.bank_name,
            kind=BankKind.VICTIM_SUBMITTED,
            description="Hashes people registered on /protect of their own photos.",
            actor_kind="system",
        )
    except ConflictError:
        pass  # another request created it first
    return session.execute(query).scalar_one()


def _claim(
    session: Session, bank: Bank, registration: ProtectRegistration, images: list[ChosenImage]
) -> int:
    """Claim a bank entry per hash of `images` for `registration` (no commit); returns how
    many claims were added. An entry someone withdrew becomes active again; one an admin
    disabled or its source deleted stays as it is, and the person is not told either way."""
    start = _image_count(session, registration.id)
    added = 0
    for offset, image in enumerate(images):
        for kind, value in ((SignalType.PDQ, image.pdq), (SignalType.MD5, image.md5)):
            entry, _new = add_entry(session, bank, kind, value, source=f"protect:{registration.id}")
            if entry.status == EntryStatus.WITHDRAWN:
                entry.status = EntryStatus.ACTIVE
                entry.status_changed_at = utcnow()
            held = session.execute(
                select(ProtectHash.id).where(
                    ProtectHash.registration_id == registration.id,
                    ProtectHash.bank_entry_id == entry.id,
                )
            ).first()
            if held is None:
                session.add(
                    ProtectHash(
                        registration_id=registration.id,
                        bank_entry_id=entry.id,
                        signal_type=str(kind),
                        image_index=start + offset,
                    )
                )
                added += 1
    session.flush()
    return added


def _image_count(session: Session, registration_id: int) -> int:
    indexes = session.execute(
        select(ProtectHash.image_index)
        .where(ProtectHash.registration_id == registration_id)
        .distinct()
    ).scalars()
    return len(list(indexes))


def register(session: Session, submission: Submission, settings: ProtectSettings) -> CaseReceipt:
    """Register the hashes of a person's photos and commit; returns the case number and the
    PIN (shown once; only its argon2 hash is kept). Raises ValidationError: `consent_required`,
    `unknown_category`, `no_images`, `too_many_images`, `flat_image`.

    The answer is the same whether or not anyone registered these photos before.
    """
    if not submission.consent:
        raise ValidationError("consent is required", code="consent_required")
    if submission.category not in CATEGORIES:
        raise ValidationError("choose what the photos are", code="unknown_category")
    images = _checked(submission.images, settings.max_images)
    contact = (submission.contact or "").replace("\x00", "").strip()[:MAX_CONTACT] or None
    bank = victim_bank(session, settings)
    number, pin = new_receipt_number(), new_pin()
    registration = ProtectRegistration(
        number=number, pin_hash=hash_password(pin), category=submission.category
    )
    session.add(registration)
    session.flush()
    if contact:
        registration.contact_ciphertext = seal(
            settings.contact_key, registration.id, CONTACT_PURPOSE, {"contact": contact}
        )
    hashes = _claim(session, bank, registration, images)
    audit.record(
        session,
        "protect.register",
        actor_kind="anonymous",
        object_type="protect_registration",
        object_id=registration.id,
        details={"images": len(images), "hashes": hashes, "category": submission.category},
    )
    session.commit()
    return CaseReceipt(number, pin, registration.id)


def open_case(session: Session, number: str | None, pin: str | None) -> ProtectRegistration:
    """The registration behind a case number and PIN; raises CaseNotFound.

    An unknown number costs the same argon2 verification as a wrong PIN, so timing does not
    tell which case numbers exist.
    """
    canonical = normalise_receipt_number(number)
    registration = None
    if canonical:
        registration = session.execute(
            select(ProtectRegistration).where(ProtectRegistration.number == canonical)
        ).scalar_one_or_none()
    if not verify_password(registration.pin_hash if registration else None, pin or ""):
        raise CaseNotFound("no registration matches that case number and PIN")
    assert registration is not None  # verify_password refuses a missing hash
    return registration


def _registration(session: Session, registration_id: int) -> ProtectRegistration:
    registration = session.get(ProtectRegistration, registration_id)
    if registration is None:
        raise CaseNotFound("no such registration")
    return registration


def case_view(session: Session, registration_id: int, settings: ProtectSettings) -> CaseView:
    """Counts and dates of the reports whose media matched this registration's hashes after
    it registered them (earlier matches belong to someone else's registration of the same
    photo and would give it away). Raises CaseNotFound."""
    registration = _registration(session, registration_id)
    claims = {
        entry_id: added_at
        for entry_id, added_at in session.execute(
            select(ProtectHash.bank_entry_id, ProtectHash.added_at).where(
                ProtectHash.registration_id == registration.id
            )
        ).all()
    }
    matched: dict[int, datetime] = {}
    if claims:
        # Bank signals are labelled with the bank kind and name the entry in their details
        # (models/signals.py BankHit); the database narrows by both, each row is re-read here.
        rows = session.execute(
            select(Signal.report_id, Signal.created_at, Signal.details, Report.received_at)
            .join(Report, Report.id == Signal.report_id)
            .where(
                Signal.kind == SignalKind.BANK,
                Signal.label == BankKind.VICTIM_SUBMITTED,
                Signal.created_at >= min(claims.values()),
                Signal.details["entry_id"].as_integer().in_(sorted(claims)),
            )
        ).all()
        for report_id, found_at, details, received_at in rows:
            hit = BankHit.from_details(details)
            if hit is None or hit.entry_id not in claims or found_at < claims[hit.entry_id]:
                continue
            matched[report_id] = min(matched.get(report_id, received_at), received_at)
    return CaseView(
        number=registration.number,
        created_at=registration.created_at,
        withdrawn_at=registration.withdrawn_at,
        images=_image_count(session, registration.id),
        max_images=settings.max_images,
        match_count=len(matched),
        match_dates=tuple(sorted((when.date() for when in matched.values()), reverse=True)),
    )


def add_images(
    session: Session,
    registration_id: int,
    images: Sequence[ChosenImage],
    settings: ProtectSettings,
) -> int:
    """Add more photos' hashes to a registration and commit; returns how many images were
    added. Raises CaseNotFound, ValidationError (`withdrawn`, and those of `register`)."""
    registration = _registration(session, registration_id)
    if registration.withdrawn_at is not None:
        raise ValidationError("this registration was withdrawn", code="withdrawn")
    room = settings.max_images - _image_count(session, registration.id)
    checked = _checked(images, room)
    hashes = _claim(session, victim_bank(session, settings), registration, checked)
    audit.record(
        session,
        "protect.add",
        actor_kind="anonymous",
        object_type="protect_registration",
        object_id=registration.id,
        details={"images": len(checked), "hashes": hashes},
    )
    session.commit()
    return len(checked)


def withdraw(session: Session, registration_id: int) -> int:
    """Withdraw every hash of a registration and commit: each bank entry no other active
    registration holds is withdrawn, so it stops matching at once in every process (matching
    re-reads entry status). Returns how many entries were withdrawn. Idempotent. Raises
    CaseNotFound."""
    registration = _registration(session, registration_id)
    lock_entry_writes(session)  # a registration of the same photo cannot slip in between
    now = utcnow()
    claims = (
        session.execute(
            select(ProtectHash).where(
                ProtectHash.registration_id == registration.id,
                ProtectHash.withdrawn_at.is_(None),
            )
        )
        .scalars()
        .all()
    )
    for claim in claims:
        claim.withdrawn_at = now
    session.flush()
    entry_ids = {claim.bank_entry_id for claim in claims}
    still_held = set(
        session.execute(
            select(ProtectHash.bank_entry_id).where(
                ProtectHash.bank_entry_id.in_(entry_ids), ProtectHash.withdrawn_at.is_(None)
            )
        ).scalars()
    )
    withdrawn = 0
    for entry in session.execute(
        select(BankEntry).where(BankEntry.id.in_(entry_ids - still_held))
    ).scalars():
        if entry.status == EntryStatus.ACTIVE:
            entry.status = EntryStatus.WITHDRAWN
            entry.status_changed_at = now
            withdrawn += 1
    if registration.withdrawn_at is None:
        registration.withdrawn_at = now
    audit.record(
        session,
        "protect.withdraw",
        actor_kind="anonymous",
        object_type="protect_registration",
        object_id=registration.id,
        details={"entries_withdrawn": withdrawn, "claims": len(claims)},
    )
    session.commit()
    return withdrawn
