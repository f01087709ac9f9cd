"""Deciding exact re-shares of confirmed content without a person (off by default).

When `AUTO_DECIDE_RESHARES` is on, a report whose media are byte-for-byte (SHA-256 or MD5) an
entry that a standing final decision put into a decision-fed bank gets the same decision,
made by the system: recorded `pending` with its own undo window (`AUTO_DECIDE_UNDO_MINUTES`),
audited as the system's, undoable by a senior or admin until then, and final (banked, called
back) like any other decision afterwards. Near matches (PDQ) always go to a person: only the
exact bytes are known to be the same picture.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    OPEN_STATUSES,
    Bank,
    BankEntry,
    BankHit,
    Decision,
    DecisionState,
    EntryStatus,
    Report,
    Signal,
    SignalKind,
    utcnow,
)
from moderation.audit import events as audit


@dataclass(frozen=True)
class AutoDecideSettings:
    enabled: bool = False
    undo_minutes: float = 60.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AutoDecideSettings:
        return cls(
            enabled=bool(config.get("AUTO_DECIDE_RESHARES", False)),
            undo_minutes=float(config.get("AUTO_DECIDE_UNDO_MINUTES", 60)),
        )


def _source_decision(session: Session, report: Report) -> Decision | None:
    """The standing removal an exact bank match of this report's media came from, if any."""
    signals = session.execute(
        select(Signal).where(Signal.report_id == report.id, Signal.kind == SignalKind.BANK)
    ).scalars()
    for signal in signals:
        hit = BankHit.from_details(signal.details)
        if hit is None or hit.signal_type not in ("sha256", "md5") or hit.distance != 0:
            continue
        entry = session.get(BankEntry, hit.entry_id)
        bank = session.get(Bank, hit.bank_id)
        if (
            entry is None
            or bank is None
            or not bank.enabled
            or entry.status != EntryStatus.ACTIVE
            or not (entry.source or "").startswith("decision:")
        ):
            continue
        decision_id = entry.source.split(":", 1)[1]
        source = session.get(Decision, int(decision_id)) if decision_id.isdigit() else None
        if (
            source is not None
            and source.state == DecisionState.FINAL
            and source.reversed_at is None
            and source.action in (bank.decision_policies or [])
        ):
            return source
    return None


def auto_decide(session: Session, report_id: int, settings: AutoDecideSettings) -> Decision | None:
    """Decide one freshly triaged report as its confirmed original was decided, if settings
    allow and it is an exact re-share; commits. None when nothing was decided."""
    if not settings.enabled:
        return None
    report = session.get(Report, report_id)
    if report is None or report.status not in OPEN_STATUSES:
        return None
    already = session.execute(
        select(Decision.id).where(
            Decision.report_id == report.id, Decision.state == DecisionState.PENDING
        )
    ).first()
    source = None if already else _source_decision(session, report)
    if source is None:
        session.rollback()
        return None
    decision = Decision(
        report_id=report.id,
        user_id=None,
        action=source.action,
        reason=f"exact re-share of content decided in decision {source.id}",
        state=DecisionState.PENDING,
        batch_id=str(uuid.uuid4()),
        final_after=utcnow() + timedelta(minutes=settings.undo_minutes),
        without_viewing=True,
    )
    session.add(decision)
    session.flush()
    audit.record(
        session,
        "decision.auto",
        actor_kind="system",
        object_type="report",
        object_id=report.id,
        details={"decision_id": decision.id, "action": decision.action, "source": source.id},
    )
    session.commit()
    return decision
