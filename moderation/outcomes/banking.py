"""Banking confirmed content: a final "remove" adds the media's hashes to the banks fed by that
policy, so the next re-share is matched at intake (exact) or triage (PDQ) and ranked first;
a reversal withdraws them at once.

Which policies feed which banks is data (`Bank.decision_policies`, set with `moderation bank
create --decision-policies ...`): the `confirmed` bank is created on first use, fed by NCII and
synthetic sexual imagery removals. An operator who wants no automatic banking empties its list.

Everything here runs inside the caller's transaction (finalisation or reversal): entries appear
exactly when the decision becomes final, and never for an undone one.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import (
    Bank,
    BankEntry,
    BankKind,
    Decision,
    DecisionState,
    EntryStatus,
    Media,
    MediaHash,
    Report,
    SignalType,
    utcnow,
)
from moderation.audit import events as audit
from moderation.banks.matching import MIN_PDQ_QUALITY
from moderation.banks.service import add_entry

CONFIRMED_BANK = "confirmed"
DEFAULT_POLICIES = ("remove.ncii", "remove.synthetic_sexual")


def _source(decision: Decision) -> str:
    return f"decision:{decision.id}"


def banks_fed_by(session: Session, policy: str) -> list[Bank]:
    """The banks a final `policy` decision adds to; creates the `confirmed` bank the first time
    a default policy needs it (in a savepoint: two finalisers racing both end with one bank)."""
    banks = [
        bank
        for bank in session.execute(select(Bank).order_by(Bank.id)).scalars()
        if policy in (bank.decision_policies or [])
    ]
    if banks or policy not in DEFAULT_POLICIES:
        return banks
    if session.execute(select(Bank.id).where(Bank.name == CONFIRMED_BANK)).first():
        return []  # it exists and an operator chose what feeds it
    return [confirmed_bank(session)]


def confirmed_bank(session: Session) -> Bank:
    """The `confirmed` bank, created (fed by the default policies) if it does not exist yet."""
    existing = session.execute(select(Bank).where(Bank.name == CONFIRMED_BANK)).scalar_one_or_none()
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            bank = Bank(
                name=CONFIRMED_BANK,
                kind=BankKind.CONFIRMED,
                description="Media confirmed by our moderators' decisions",
                decision_policies=list(DEFAULT_POLICIES),
            )
            session.add(bank)
            session.flush()
            audit.record(
                session,
                "bank.create",
                actor_kind="system",
                object_type="bank",
                object_id=bank.id,
                details={"kind": str(bank.kind), "decision_policies": list(DEFAULT_POLICIES)},
            )
    except IntegrityError:
        bank = session.execute(select(Bank).where(Bank.name == CONFIRMED_BANK)).scalar_one()
    return bank


def media_signals(session: Session, media: Media) -> list[tuple[SignalType, str | list]]:
    """The hashes of one analysed medium a bank can hold: SHA-256 and MD5 always, PDQ when its
    quality is good enough to match on, and a video's frame hashes."""
    found: list[tuple[SignalType, str | list]] = []
    if media.sha256:
        found.append((SignalType.SHA256, media.sha256))
    if media.md5:
        found.append((SignalType.MD5, media.md5))
    if media.pdq and (media.pdq_quality or 0) >= MIN_PDQ_QUALITY:
        found.append((SignalType.PDQ, media.pdq))
    frames = session.execute(
        select(MediaHash)
        .where(MediaHash.media_id == media.id, MediaHash.frame.is_not(None))
        .order_by(MediaHash.frame)
    ).scalars()
    frame_list = [
        {"frame": row.frame, "timestamp": row.timestamp, "pdq": row.pdq, "quality": row.quality}
        for row in frames
    ]
    if frame_list:
        found.append((SignalType.VIDEO, frame_list))
    return found


def bank_decision(session: Session, decision: Decision, report: Report) -> list[BankEntry]:
    """Add the report's media to every bank fed by the decision's policy (no commit). Returns
    the entries that are new; an entry already there (from another decision, or disabled by an
    admin) is left as it is."""
    banks = banks_fed_by(session, decision.action)
    added: list[BankEntry] = []
    for bank in banks:
        for media in report.media:
            for signal_type, value in media_signals(session, media):
                entry, new = add_entry(
                    session,
                    bank,
                    signal_type,
                    value,
                    source=_source(decision),
                    note=f"report {report.id}",
                    added_by_user_id=decision.user_id,
                )
                if new:
                    added.append(entry)
    return added


def _standing_removal(
    session: Session, entry: BankEntry, bank: Bank, excluding: int
) -> Decision | None:
    """Another final, unreversed decision of a policy feeding `bank` on a report whose media
    carry the entry's hash: the entry still stands on it."""
    column = {
        SignalType.SHA256: Media.sha256,
        SignalType.MD5: Media.md5,
        SignalType.PDQ: Media.pdq,
    }.get(SignalType(entry.signal_type))
    if column is None:
        return None  # video entries are keyed by their frame list; withdrawn with the decision
    return session.execute(
        select(Decision)
        .join(Media, Media.report_id == Decision.report_id)
        .where(
            column == entry.signal_value,
            Decision.id != excluding,
            Decision.state == DecisionState.FINAL,
            Decision.reversed_at.is_(None),
            Decision.action.in_(list(bank.decision_policies or [])),
        )
        .order_by(Decision.id)
        .limit(1)
    ).scalar_one_or_none()


def withdraw_decision(
    session: Session, decision: Decision, actor_user_id: int | None
) -> list[BankEntry]:
    """Withdraw what `decision` banked (no commit), unless another standing decision confirms
    the same hash: then the entry passes to that decision. Returns the withdrawn entries."""
    entries: Iterable[BankEntry] = session.execute(
        select(BankEntry).where(
            BankEntry.source == _source(decision), BankEntry.status == EntryStatus.ACTIVE
        )
    ).scalars()
    withdrawn = []
    for entry in entries:
        bank = session.get(Bank, entry.bank_id)
        other = _standing_removal(session, entry, bank, decision.id) if bank else None
        if other is not None:
            entry.source = _source(other)
            continue
        entry.status = EntryStatus.WITHDRAWN
        entry.status_changed_at = utcnow()
        audit.record(
            session,
            "bank.entry_status",
            actor_user_id=actor_user_id,
            actor_kind="user" if actor_user_id else "system",
            object_type="bank_entry",
            object_id=entry.id,
            details={
                "bank_id": entry.bank_id,
                "from": "active",
                "to": "withdrawn",
                "decision_id": decision.id,
            },
        )
        withdrawn.append(entry)
    return withdrawn


def bank_report(
    session: Session, report: Report, bank_ref: int | str, user_id: int
) -> list[BankEntry]:
    """A reviewer's "add to bank": the report's analysed media go into `bank_ref` with the
    reviewer as their source, without a decision (commits). Returns the new entries. Raises
    NotFoundError for an unknown bank, ValidationError if there is nothing to add."""
    from moderation.banks.service import get_bank
    from moderation.core.errors import ValidationError

    bank = confirmed_bank(session) if bank_ref == CONFIRMED_BANK else get_bank(session, bank_ref)
    added: list[BankEntry] = []
    found = False
    for media in report.media:
        for signal_type, value in media_signals(session, media):
            found = True
            entry, new = add_entry(
                session,
                bank,
                signal_type,
                value,
                source=f"review:{report.id}",
                note=f"report {report.id}",
                added_by_user_id=user_id,
            )
            if new:
                added.append(entry)
    if not found:
        raise ValidationError("this report has no analysed media to add to a bank")
    session.commit()
    return added
