"""Hash banks: create, list, browse and search, add entries, disable or withdraw them.

The lookup API for triage (`match_media`, `match_video`, `BankMatch`) lives in
`moderation.banks.matching` and is re-exported here; imports and exports stream in
`moderation.banks.import_export`. Every function that changes something commits and records
an audit event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import (
    ActionHint,
    Bank,
    BankEntry,
    BankKind,
    EntryStatus,
    utcnow,
)
from moderation.audit import events as audit
from moderation.banks.formats import FormatError, normalise_signal, signal_type_of
from moderation.banks.index import lock_entry_writes
from moderation.banks.matching import (
    BankMatch,
    match_media,
    match_video,
)
from moderation.core.errors import ConflictError, NotFoundError, ValidationError

__all__ = [
    "BankMatch",
    "add_to_bank",
    "create_bank",
    "get_bank",
    "list_banks",
    "match_media",
    "match_video",
    "set_bank_enabled",
    "set_entry_status",
]

_ERROR_CODE = "invalid_bank"


@dataclass(frozen=True)
class BankSummary:
    bank: Bank
    counts: dict[str, int]  # entries by status

    @property
    def active(self) -> int:
        return self.counts.get(EntryStatus.ACTIVE, 0)

    def to_dict(self) -> dict[str, Any]:
        return {**bank_dict(self.bank), "entries": self.counts}


def bank_dict(bank: Bank) -> dict[str, Any]:
    return {
        "id": bank.id,
        "name": bank.name,
        "kind": str(bank.kind),
        "pdq_threshold": bank.pdq_threshold,
        "action_hint": str(bank.action_hint),
        "enabled": bank.enabled,
        "decision_policies": list(bank.decision_policies or []),
        "created_at": bank.created_at.isoformat(),
    }


def _choice(value: str, allowed: type[BankKind] | type[ActionHint], what: str) -> Any:
    try:
        return allowed(value)
    except ValueError:
        raise ValidationError(
            f"{what} must be one of {', '.join(allowed)}", code=_ERROR_CODE
        ) from None


def create_bank(
    session: Session,
    name: str,
    *,
    kind: str = BankKind.OTHER,
    pdq_threshold: int = 31,
    action_hint: str = ActionHint.RAISE_PRIORITY,
    description: str | None = None,
    actor_user_id: int | None = None,
    actor_kind: str = "user",
) -> Bank:
    """Create a bank and commit (audit `bank.create`). Raises ValidationError for a bad name,
    kind, hint or threshold (0..31), ConflictError if the name is taken."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ValidationError("a bank name is 1 to 100 characters", code=_ERROR_CODE)
    if not isinstance(pdq_threshold, int) or not 0 <= pdq_threshold <= 31:
        raise ValidationError("the PDQ threshold must be 0 to 31", code=_ERROR_CODE)
    bank = Bank(
        name=name,
        kind=_choice(kind, BankKind, "kind"),
        action_hint=_choice(action_hint, ActionHint, "action hint"),
        pdq_threshold=pdq_threshold,
        description=description,
    )
    if session.execute(select(Bank.id).where(Bank.name == name)).first():
        raise ConflictError("a bank with this name already exists")
    session.add(bank)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ConflictError("a bank with this name already exists") from None
    audit.record(
        session,
        "bank.create",
        actor_user_id=actor_user_id,
        actor_kind=actor_kind,
        object_type="bank",
        object_id=bank.id,
        details={"kind": str(bank.kind), "pdq_threshold": pdq_threshold},
    )
    session.commit()
    return bank


def get_bank(session: Session, bank_ref: int | str) -> Bank:
    """A bank by id (int or digits) or name; raises NotFoundError."""
    query = select(Bank)
    if isinstance(bank_ref, int) or str(bank_ref).isdigit():
        query = query.where(or_(Bank.id == int(bank_ref), Bank.name == str(bank_ref)))
    else:
        query = query.where(Bank.name == bank_ref)
    bank = session.execute(query.order_by(Bank.id).limit(1)).scalar_one_or_none()
    if bank is None:
        raise NotFoundError("no such bank")
    return bank


def list_banks(session: Session) -> list[BankSummary]:
    """Every bank by name, with its entry counts by status."""
    banks = session.execute(select(Bank).order_by(Bank.name)).scalars().all()
    counts: dict[int, dict[str, int]] = {bank.id: {} for bank in banks}
    rows = session.execute(
        select(BankEntry.bank_id, BankEntry.status, func.count()).group_by(
            BankEntry.bank_id, BankEntry.status
        )
    ).all()
    for bank_id, status, count in rows:
        counts.setdefault(bank_id, {})[str(status)] = int(count)
    return [BankSummary(bank, counts[bank.id]) for bank in banks]


def set_bank_enabled(
    session: Session,
    bank_id: int,
    enabled: bool,
    *,
    actor_user_id: int | None,
    actor_kind: str = "user",
) -> Bank:
    """Enable or disable a whole bank (a disabled bank matches nothing); commits and audits
    `bank.enable` / `bank.disable`. Raises NotFoundError."""
    bank = get_bank(session, bank_id)
    bank.enabled = enabled
    audit.record(
        session,
        "bank.enable" if enabled else "bank.disable",
        actor_user_id=actor_user_id,
        actor_kind=actor_kind,
        object_type="bank",
        object_id=bank.id,
    )
    session.commit()
    return bank


def set_decision_policies(
    session: Session,
    bank_ref: int | str,
    policies: list[str],
    *,
    actor_user_id: int | None,
    actor_kind: str = "user",
) -> Bank:
    """Which final removals add their media to this bank (policy codes such as remove.ncii;
    none stops it). Commits; audits `bank.decision_policies`. Raises NotFoundError or
    ValidationError."""
    bank = get_bank(session, bank_ref)
    cleaned = list(dict.fromkeys(policy.strip() for policy in policies if policy.strip()))
    bad = [policy for policy in cleaned if not re.fullmatch(r"remove\.[a-z_]{1,40}", policy)]
    if bad:
        raise ValidationError(
            "only removal policies (remove.<category>) can feed a bank", code=_ERROR_CODE
        )
    bank.decision_policies = cleaned
    audit.record(
        session,
        "bank.decision_policies",
        actor_user_id=actor_user_id,
        actor_kind=actor_kind,
        object_type="bank",
        object_id=bank.id,
        details={"decision_policies": cleaned},
    )
    session.commit()
    return bank


def set_entry_status(
    session: Session,
    entry_id: int,
    status: str,
    *,
    actor_user_id: int | None,
    actor_kind: str = "user",
) -> BankEntry:
    """Set an entry's status (active, withdrawn, deleted, disabled); it stops (or starts)
    matching at once in every process. Commits; audits `bank.entry_status`. Raises
    NotFoundError or ValidationError."""
    try:
        new_status = EntryStatus(status)
    except ValueError:
        raise ValidationError("unknown entry status", code=_ERROR_CODE) from None
    entry = session.get(BankEntry, entry_id)
    if entry is None:
        raise NotFoundError("no such bank entry")
    previous = str(entry.status)
    if entry.status != new_status:
        entry.status = new_status
        entry.status_changed_at = utcnow()
    audit.record(
        session,
        "bank.entry_status",
        actor_user_id=actor_user_id,
        actor_kind=actor_kind,
        object_type="bank_entry",
        object_id=entry.id,
        details={"bank_id": entry.bank_id, "from": previous, "to": str(new_status)},
    )
    session.commit()
    return entry


def add_to_bank(
    session: Session,
    bank_id: int,
    signal_type: str,
    value: str | list[Any],
    *,
    source: str,
    note: str | None = None,
    added_by_user_id: int | None = None,
) -> BankEntry:
    """Add one hash to a bank (e.g. a confirmed violation) and commit, with audit event
    `bank.entry_add`. Idempotent: an existing entry for the same hash is returned unchanged
    (an admin's 'disabled' is not undone). The entry is searchable in every process at once
    (see BankIndex.refresh). Raises NotFoundError or ValidationError."""
    entry = add_entry(
        session,
        get_bank(session, bank_id),
        signal_type,
        value,
        source=source,
        note=note,
        added_by_user_id=added_by_user_id,
    )[0]
    session.commit()
    return entry


def add_entry(
    session: Session,
    bank: Bank,
    signal_type: str,
    value: str | list[Any],
    *,
    source: str,
    note: str | None = None,
    added_by_user_id: int | None = None,
) -> tuple[BankEntry, bool]:
    """`add_to_bank` inside the caller's transaction (no commit): the entry and whether it is
    new. Raises ValidationError for a malformed hash."""
    try:
        kind = signal_type_of(signal_type)
        signal_value, frames = normalise_signal(kind, value)
    except FormatError as error:
        raise ValidationError(str(error), code=_ERROR_CODE) from None
    lock_entry_writes(session)  # before the look-up too: two adds of one hash cannot both insert
    existing = session.execute(
        select(BankEntry).where(
            BankEntry.bank_id == bank.id,
            BankEntry.signal_type == kind,
            BankEntry.signal_value == signal_value,
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    entry = BankEntry(
        bank_id=bank.id,
        signal_type=kind,
        signal_value=signal_value,
        video_frames=frames,
        source=source[:200],
        note=note,
        added_by_user_id=added_by_user_id,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        "bank.entry_add",
        actor_user_id=added_by_user_id,
        actor_kind="user" if added_by_user_id else "system",
        object_type="bank_entry",
        object_id=entry.id,
        details={"bank_id": bank.id, "signal_type": str(kind), "signal_value": signal_value},
    )
    return entry, True
