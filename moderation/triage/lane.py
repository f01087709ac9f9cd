"""Which triage queue a report waits on: the urgent one, drained first, or the ordinary one.

Triage is first in, first out within a queue, so under a flood of ordinary reports everything
waits its turn. Two kinds of report go ahead before any analysis has run:

- reports from victims and trusted flaggers (policy.URGENT_REPORTER_KINDS);
- known copies: a report carrying a medium whose exact bytes (MD5 or SHA-256, computed at intake)
  are an active entry of an enabled hash bank. Banks exchange MD5 (StopNCII does), and a file
  forwarded unchanged from one chat room to the next keeps its bytes, so this is the re-share of
  a known victim's picture arriving at the back of a long queue. Copies that were re-encoded
  only match by PDQ, which needs the decode, so they wait their turn like any other report.

Intake asks this after its commit and the sweeper when it re-enqueues, so both put a report on
the same queue. The answer only orders work: priority is still computed by triage.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, and_, select, union
from sqlalchemy.orm import Session

from models import BankEntry, Media, SignalType
from moderation.banks.matching import matchable
from moderation.triage.policy import triage_is_urgent


def known_copy_reports(session: Session, report_ids: Iterable[int]) -> set[int]:
    """Those of `report_ids` with a medium whose MD5 or SHA-256 equals an active entry of an
    enabled bank (one query; each side of the union uses the entries' (type, value) index)."""
    ids = list(report_ids)
    if not ids:
        return set()

    def matching(signal_type: SignalType, column: Any) -> Select[Any]:
        return matchable(
            select(Media.report_id).join(
                BankEntry,
                and_(BankEntry.signal_type == signal_type, BankEntry.signal_value == column),
            )
        ).where(Media.report_id.in_(ids), column.is_not(None))

    rows = session.execute(
        union(matching(SignalType.MD5, Media.md5), matching(SignalType.SHA256, Media.sha256))
    )
    return {int(row[0]) for row in rows}


def urgent_reports(
    session: Session, reports: Iterable[tuple[int, str | None]], known_copies: bool = True
) -> set[int]:
    """Of (report id, reporter kind) pairs, the ids to triage first (see the module docstring).
    Reports from urgent reporters need no query, nor any when `known_copies` is False (the
    caller knows no medium has its bytes yet)."""
    pairs = list(reports)
    urgent = {report_id for report_id, kind in pairs if triage_is_urgent(kind)}
    if not known_copies:
        return urgent
    return urgent | known_copy_reports(
        session, [report_id for report_id, _ in pairs if report_id not in urgent]
    )
