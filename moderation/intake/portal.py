"""Reports from the public portal: people reporting content about themselves, and support
organisations helping them. Same store_report + enqueue path as platforms, reporter kind `victim`.

The person gets a random receipt number and a PIN (argon2-hashed at rest) to check the status
later; how to reach them, if given, is sealed (AES-GCM) beside the report and never logged.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.utils import secure_filename

from models import Platform, PortalReceipt, Report, ReporterKind, ReportStatus
from moderation.accounts.passwords import hash_password, verify_password
from moderation.core.errors import ConflictError, DomainError, ValidationError
from moderation.core.sealing import add_sealed_contact
from moderation.intake import service as intake
from moderation.intake.platforms import create_platform
from moderation.intake.report_input import CATEGORIES, MAX_TEXT, MediaInput, ReportInput, http_url
from moderation.media.fetching.sniff import sniff_type
from moderation.media.store import MediaStore

CONTACT_PURPOSE = "portal_contact"
# Crockford's base32: no I, L, O or U, so a number read aloud or copied by hand survives.
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIPT_GROUPS, RECEIPT_GROUP_LEN = 4, 4  # 16 characters = 80 random bits
PIN_DIGITS = 8
UPLOAD_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/avif",
        "video/mp4",
        "video/quicktime",
        "video/webm",
    }
)
MAX_CONTACT = 500


class ReceiptNotFound(DomainError):
    """No receipt matches that number and PIN (the two cases are not told apart)."""

    status = 404
    code = "receipt_not_found"


@dataclass(frozen=True)
class Upload:
    filename: str | None
    data: bytes


@dataclass(frozen=True)
class PortalSubmission:
    category: str
    links: tuple[str, ...]
    uploads: tuple[Upload, ...]
    description: str | None
    contact: str | None


@dataclass(frozen=True)
class PortalSettings:
    platform_slug: str = "portal"
    max_uploads: int = 5
    max_upload_bytes: int = 25 * 1024 * 1024
    max_links: int = 10
    contact_key: bytes = b""


@dataclass(frozen=True)
class Receipt:
    number: str
    pin: str
    report_id: int


def new_receipt_number() -> str:
    """A random receipt number like `7K3M-Q9XD-2HTB-WN4E`; never derived from the report id."""
    chars = "".join(
        secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_GROUPS * RECEIPT_GROUP_LEN)
    )
    return "-".join(
        chars[i : i + RECEIPT_GROUP_LEN] for i in range(0, len(chars), RECEIPT_GROUP_LEN)
    )


def normalise_receipt_number(text: str | None) -> str | None:
    """The canonical form of a typed receipt number, or None if it cannot be one.

    Case, spaces and hyphens are forgiven, and so are O/I/L typed for 0/1.
    """
    if not text:
        return None
    cleaned = "".join(text.upper().split()).replace("-", "")
    cleaned = cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    if len(cleaned) != RECEIPT_GROUPS * RECEIPT_GROUP_LEN or any(
        c not in RECEIPT_ALPHABET for c in cleaned
    ):
        return None
    return "-".join(
        cleaned[i : i + RECEIPT_GROUP_LEN] for i in range(0, len(cleaned), RECEIPT_GROUP_LEN)
    )


def new_pin() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))


def portal_platform(session: Session, slug: str) -> Platform:
    """The internal platform that owns portal reports, created on first use.

    Its webhook secret and API token are random and never shown, and the API refuses its slug.
    """
    found = session.execute(select(Platform).where(Platform.slug == slug)).scalar_one_or_none()
    if found is not None:
        return found
    try:
        create_platform(session, slug)
    except ConflictError:
        session.rollback()  # another request created it first
    return session.execute(select(Platform).where(Platform.slug == slug)).scalar_one()


def _links(links: tuple[str, ...], max_links: int) -> list[str]:
    if len(links) > max_links:
        raise ValidationError(f"at most {max_links} links", code="too_many_links")
    return [url for index, raw in enumerate(links) if (url := http_url(raw, f"links[{index}]"))]


def _uploads(uploads: tuple[Upload, ...], settings: PortalSettings) -> list[MediaInput]:
    if len(uploads) > settings.max_uploads:
        raise ValidationError(f"at most {settings.max_uploads} files", code="too_many_media")
    media = []
    for upload in uploads:
        if not upload.data:
            continue  # an empty file input
        if len(upload.data) > settings.max_upload_bytes:
            raise ValidationError("a file is too large", code="media_too_large")
        if sniff_type(upload.data) not in UPLOAD_TYPES:
            raise ValidationError("files must be pictures or videos", code="unsupported_media")
        name = secure_filename(upload.filename or "")[:255] or None
        media.append(MediaInput(data=upload.data, filename=name))
    return media


def file_report(
    session: Session,
    store: MediaStore,
    redis: Redis,
    submission: PortalSubmission,
    settings: PortalSettings,
) -> Receipt:
    """Validate, store and enqueue a portal report; commit. Returns the receipt (the PIN is
    shown once and only its hash is kept). Raises ValidationError for bad input."""
    if submission.category not in CATEGORIES:
        raise ValidationError("choose what the content is", code="unknown_category")
    links = _links(submission.links, settings.max_links)
    media = _uploads(submission.uploads, settings)
    if not links and not media:
        raise ValidationError("add a link or a file", code="missing_content")
    description = (submission.description or "").replace("\x00", "").strip()[:MAX_TEXT] or None
    contact = (submission.contact or "").replace("\x00", "").strip()[:MAX_CONTACT] or None
    report_input = ReportInput(
        external_id=None,
        category=submission.category,
        reported_at=None,
        reporter_kind=ReporterKind.VICTIM,
        reporter_id=None,
        comment=description,
        content_url=links[0] if links else None,
        content_text=None,
        posted_by_id=None,
        posted_by_handle=None,
        context={"links": links} if len(links) > 1 else {},
        media=tuple(media),
    )
    platform = portal_platform(session, settings.platform_slug)
    number, pin = new_receipt_number(), new_pin()
    pin_hash = hash_password(pin)

    def attach(report: Report) -> None:
        session.add(PortalReceipt(number=number, pin_hash=pin_hash, report_id=report.id))
        if contact:
            add_sealed_contact(
                session, settings.contact_key, report.id, CONTACT_PURPOSE, {"contact": contact}
            )

    result = intake.store_report(
        session, store, platform, f"portal:{number}", report_input, source="portal", attach=attach
    )
    intake.enqueue_after_commit(session, redis, result.body["id"], report_input)
    return Receipt(number=number, pin=pin, report_id=result.body["id"])


def plain_status(status: str) -> str:
    """The three stages a reporter sees: `received`, `in_review`, `finished`."""
    if status in (ReportStatus.RECEIVED, ReportStatus.TRIAGING):
        return "received"
    if status in (ReportStatus.QUEUED, ReportStatus.IN_REVIEW):
        return "in_review"
    return "finished"


def verify_receipt(session: Session, number: str | None, pin: str | None) -> Report:
    """The report behind a receipt number and PIN; raises ReceiptNotFound.

    An unknown number costs the same argon2 verification as a wrong PIN, so timing does not tell
    which receipt numbers exist.
    """
    canonical = normalise_receipt_number(number)
    row: Any = None
    if canonical:
        row = session.execute(
            select(PortalReceipt, Report)
            .join(Report, Report.id == PortalReceipt.report_id)
            .where(PortalReceipt.number == canonical)
        ).first()
    if not verify_password(row[0].pin_hash if row else None, pin or ""):
        raise ReceiptNotFound("no report matches that receipt number and PIN")
    return row[1]


def check_status(session: Session, number: str | None, pin: str | None) -> str:
    """The plain status (see plain_status) of the report behind a receipt number and PIN."""
    return plain_status(verify_receipt(session, number, pin).status)
