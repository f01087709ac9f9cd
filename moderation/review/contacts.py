"""Contact data sealed with a report: who holds some, and opening it for an authorised person.

A victim who used the portal may leave a way to reach her; a Mastodon instance may send the
reporter's email and addresses when the operator keeps them. Both are sealed at rest
(core/sealing.py). Opening them is deliberate (a POST), limited by the permission module to
roles that follow up with people, and recorded as an audit event naming which kinds were opened,
never their content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Report, SealedContact
from moderation.audit import events as audit
from moderation.core.sealing import SealError, unseal
from moderation.intake.mastodon_payload import REPORTER_PII_PURPOSE
from moderation.intake.portal import CONTACT_PURPOSE

# The kinds the item page knows how to show, in the order it shows them.
PURPOSES = (CONTACT_PURPOSE, REPORTER_PII_PURPOSE)


@dataclass(frozen=True)
class OpenedContact:
    purpose: str
    # Field name -> text, in a stable order; lists (e.g. IP history) joined one per line.
    fields: tuple[tuple[str, str], ...]


def purposes_held(session: Session, report_id: int) -> list[str]:
    """The kinds of contact data sealed with the report (nothing is opened)."""
    held = set(
        session.execute(
            select(SealedContact.purpose).where(SealedContact.report_id == report_id)
        ).scalars()
    )
    return [purpose for purpose in PURPOSES if purpose in held]


def open_contacts(
    session: Session, key: bytes, report: Report, user_id: int
) -> list[OpenedContact]:
    """Unseal every contact row of `report` for `user_id` (already authorised by the caller)
    and record that they were opened; commits. A row that does not authenticate
    (tampered, or sealed under another key) is reported as unreadable, not shown."""
    rows = session.execute(
        select(SealedContact).where(SealedContact.report_id == report.id).order_by(SealedContact.id)
    ).scalars()
    opened, unreadable = [], 0
    for row in rows:
        try:
            value = unseal(key, report.id, row.purpose, row.ciphertext)
        except SealError:
            unreadable += 1
            continue
        opened.append(OpenedContact(row.purpose, _fields(value)))
    opened.sort(key=lambda c: PURPOSES.index(c.purpose) if c.purpose in PURPOSES else len(PURPOSES))
    audit.record(
        session,
        "contact.view",
        actor_user_id=user_id,
        object_type="report",
        object_id=report.id,
        details={"purposes": sorted({c.purpose for c in opened}), "unreadable": unreadable},
    )
    session.commit()
    return opened


def _fields(value: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """(field, text) pairs of a sealed value, empty ones dropped; a list becomes one line per
    entry (an IP history entry: "address · time")."""
    fields = []
    for name, item in value.items():
        if isinstance(item, list):
            text = "\n".join(line for line in map(_line, item) if line)
        else:
            text = "" if item is None else str(item)
        if text:
            fields.append((str(name), text))
    return tuple(fields)


def _line(entry: Any) -> str:
    if isinstance(entry, dict):
        return " · ".join(str(value) for value in entry.values() if value)
    return str(entry)
