"""Sealing small personal data (contact details) at rest with AES-256-GCM.

The key is derived from MEDIA_KEY with HKDF-SHA256 under its own label, so contact data and media
never share a key, and rotating MEDIA_KEY covers both. The associated data binds a sealed value to
its report and purpose, so a ciphertext copied onto another row does not open.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import SealedContact
from moderation.config import decode_media_key

_MAGIC = b"SC1"
_NONCE_LEN = 12
_HKDF_INFO = b"moderation-queue/sealed-contact/v1"


class SealError(Exception):
    """A sealed value does not open: wrong key, altered bytes or moved to another row."""


def contact_key(media_key: bytes) -> bytes:
    """The 32-byte contact-data key derived from the media key-encryption key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(media_key)


def contact_key_for(config: Mapping[str, Any]) -> bytes:
    """The contact-data key of an app's configuration (derived from its MEDIA_KEY)."""
    return contact_key(decode_media_key(config["MEDIA_KEY"]))


def _associated(report_id: int, purpose: str) -> bytes:
    return f"{report_id}:{purpose}".encode()


def seal(key: bytes, report_id: int, purpose: str, value: dict[str, Any]) -> bytes:
    """Encrypt a JSON-able `value` for one report and purpose."""
    nonce = secrets.token_bytes(_NONCE_LEN)
    plaintext = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return _MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, _associated(report_id, purpose))


def unseal(key: bytes, report_id: int, purpose: str, blob: bytes) -> dict[str, Any]:
    """The value sealed by `seal`; raises SealError if it does not authenticate."""
    if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + _NONCE_LEN + 16:
        raise SealError("not a sealed value")
    nonce = blob[len(_MAGIC) : len(_MAGIC) + _NONCE_LEN]
    try:
        plaintext = AESGCM(key).decrypt(
            nonce, blob[len(_MAGIC) + _NONCE_LEN :], _associated(report_id, purpose)
        )
    except InvalidTag as exc:
        raise SealError("the sealed value does not authenticate") from exc
    return json.loads(plaintext)


def add_sealed_contact(
    session: Session, key: bytes, report_id: int, purpose: str, value: dict[str, Any]
) -> SealedContact:
    """Add (not commit) a sealed contact row for `report_id`."""
    row = SealedContact(
        report_id=report_id, purpose=purpose, ciphertext=seal(key, report_id, purpose, value)
    )
    session.add(row)
    return row


def read_sealed_contacts(
    session: Session, key: bytes, report_id: int, purpose: str
) -> list[dict[str, Any]]:
    """Every sealed value of `purpose` for a report, opened. For authorised views only."""
    rows = session.execute(
        select(SealedContact).where(
            SealedContact.report_id == report_id, SealedContact.purpose == purpose
        )
    ).scalars()
    return [unseal(key, report_id, purpose, row.ciphertext) for row in rows]
