"""The audit log: record events with the change they describe, seal them into the hash chain,
and verify the chain.

Recording takes no lock: an event is a plain insert in the caller's transaction, so it lands with
the change it records or not at all, and busy intake does not queue behind one global lock.
Sealing (`seal_pending`, run by the cron loop every few seconds and before any verification) is
a short transaction that takes the chain lock, and links every unsealed event in id order onto
the chain. Unsealed events are the last few seconds' tail; `verify_chain` reports how many.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import GENESIS_HASH, AuditEvent, utcnow
from moderation.core import locks


def event_hash(
    prev_hash: str,
    chain_seq: int,
    occurred_at: datetime,
    actor_user_id: int | None,
    actor_kind: str,
    action: str,
    object_type: str | None,
    object_id: str | None,
    details: dict[str, Any],
) -> str:
    """SHA-256 over a canonical JSON of the event, its place in the chain and its predecessor."""
    canonical = json.dumps(
        {
            "prev": prev_hash,
            "seq": chain_seq,
            "at": occurred_at.isoformat(timespec="microseconds"),
            "actor": actor_user_id,
            "actor_kind": actor_kind,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _hash_of(row: AuditEvent, prev_hash: str, chain_seq: int) -> str:
    return event_hash(
        prev_hash,
        chain_seq,
        row.occurred_at,
        row.actor_user_id,
        row.actor_kind,
        row.action,
        row.object_type,
        row.object_id,
        row.details,
    )


def record(
    session: Session,
    action: str,
    *,
    actor_user_id: int | None = None,
    actor_kind: str = "user",
    object_type: str | None = None,
    object_id: str | int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an event to `session` (flushed, not committed; sealed into the chain later).

    `details` must hold ids, hashes and codes only: never media, URLs, names or contact data.
    """
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=actor_user_id,
        actor_kind=actor_kind,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=details or {},
    )
    session.add(event)
    session.flush()
    return event


def seal_pending(session: Session, batch: int = 5000) -> int:
    """Link unsealed events onto the chain, in id order, and commit; returns how many.

    Safe to run from several processes: the chain lock (an advisory lock on PostgreSQL, the
    database write lock on SQLite) serialises sealers, and unique `chain_seq`/`prev_hash` make a
    fork impossible even without it.
    """
    sealed = 0
    session.commit()  # start from a fresh transaction: the lock must be its first statement
    while True:
        # Before reading the chain head: on SQLite a read-first transaction could not upgrade
        # to a write once another sealer had committed (WAL snapshot).
        locks.lock_for_transaction(session, locks.AUDIT_CHAIN, AuditEvent.__table__)
        last = session.execute(
            select(AuditEvent.chain_seq, AuditEvent.row_hash)
            .where(AuditEvent.chain_seq.is_not(None))
            .order_by(AuditEvent.chain_seq.desc())
            .limit(1)
        ).first()
        chain_seq, prev_hash = (last[0], last[1]) if last else (0, GENESIS_HASH)
        rows = (
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.chain_seq.is_(None))
                .order_by(AuditEvent.id)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            session.commit()
            return sealed
        for row in rows:
            chain_seq += 1
            row.chain_seq, row.prev_hash = chain_seq, prev_hash
            row.row_hash = prev_hash = _hash_of(row, row.prev_hash, chain_seq)
        session.commit()
        sealed += len(rows)


@dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    events: int
    first_bad_id: int | None = None
    problem: str | None = None
    unsealed: int = 0


def verify_chain(session: Session, batch: int = 5000) -> ChainVerdict:
    """Walk the sealed chain in order and recompute every hash; report the first broken link."""
    unsealed = session.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.chain_seq.is_(None))
    ).scalar_one()
    prev_hash = GENESIS_HASH
    expected_seq = 1
    last_seq = 0
    while True:
        rows = (
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.chain_seq > last_seq)
                .order_by(AuditEvent.chain_seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return ChainVerdict(True, expected_seq - 1, unsealed=unsealed)
        for row in rows:
            if row.chain_seq != expected_seq or row.prev_hash != prev_hash:
                return ChainVerdict(
                    False, expected_seq - 1, row.id, "an event is missing before this one", unsealed
                )
            if _hash_of(row, prev_hash, expected_seq) != row.row_hash:
                return ChainVerdict(
                    False, expected_seq - 1, row.id, "this event was altered", unsealed
                )
            prev_hash = row.row_hash
            last_seq = expected_seq
            expected_seq += 1
        session.expunge_all()
