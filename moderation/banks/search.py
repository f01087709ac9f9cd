"""Looking into banks: one bank's entries a page at a time (with a hash search), and an admin's
query with an uploaded image. Changes to banks live in service.py."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import BankEntry, SignalType
from moderation.audit import events as audit
from moderation.banks.index import BankIndex
from moderation.banks.matching import BankMatch, best_per_entry, exact_matches, pdq_matches
from moderation.banks.service import _ERROR_CODE, get_bank
from moderation.core.errors import ValidationError
from moderation.media.analysis import ImageAnalysis


@dataclass(frozen=True)
class EntriesPage:
    entries: list[tuple[BankEntry, int | None]]  # entry and, for a PDQ search, its distance
    page: int
    per_page: int
    total: int
    query: str | None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def entries_page(
    session: Session,
    index: BankIndex,
    bank_id: int,
    *,
    page: int = 1,
    per_page: int = 50,
    query: str | None = None,
) -> EntriesPage:
    """One page of a bank's entries, newest first; with `query` a hash search: exact for MD5
    and SHA-256 (and a PDQ given in full), by distance up to 31 for a 64-digit PDQ. Any status
    is shown (admins need to see withdrawn entries). Raises NotFoundError or ValidationError."""
    bank = get_bank(session, bank_id)
    page = max(1, page)
    text = (query or "").strip().lower()
    if not text:
        base = select(BankEntry).where(BankEntry.bank_id == bank.id)
        total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
        rows = session.execute(
            base.order_by(BankEntry.id.desc()).offset((page - 1) * per_page).limit(per_page)
        ).scalars()
        return EntriesPage([(row, None) for row in rows], page, per_page, int(total), None)
    if len(text) not in (32, 64) or any(ch not in "0123456789abcdef" for ch in text):
        raise ValidationError("search by a 32 or 64 digit hexadecimal hash", code=_ERROR_CODE)
    distances: dict[int, int | None] = {}
    exact = session.execute(
        select(BankEntry.id).where(BankEntry.bank_id == bank.id, BankEntry.signal_value == text)
    ).scalars()
    distances.update({entry_id: 0 for entry_id in exact})
    if len(text) == 64:
        for entry_id, distance in index.search(session, [text], 31).items():
            distances.setdefault(entry_id, distance)
    found = session.execute(
        select(BankEntry).where(BankEntry.bank_id == bank.id, BankEntry.id.in_(list(distances)))
    ).scalars()
    hits = []
    for entry in found:
        if entry.signal_type == SignalType.PDQ and len(text) == 64:
            # From the stored hash: the index only proposes candidates.
            distances[entry.id] = (int(entry.signal_value, 16) ^ int(text, 16)).bit_count()
            if distances[entry.id] > 31:
                continue
        hits.append(entry)
    ordered = sorted(hits, key=lambda entry: (distances[entry.id] or 0, entry.id))
    window = ordered[(page - 1) * per_page : page * per_page]
    return EntriesPage(
        [(entry, distances[entry.id]) for entry in window], page, per_page, len(ordered), text
    )


def query_image(
    session: Session, index: BankIndex, analysis: ImageAnalysis, actor_user_id: int
) -> list[BankMatch]:
    """Matches of an uploaded image against every enabled bank, PDQ regardless of quality
    (an admin asked explicitly), plus exact hashes; audited (`bank.query`, hashes only) and
    committed. `analysis` comes from the same analysis triage runs, so an image hashes here
    exactly as it would in triage (16-bit greys included)."""
    exact = exact_matches(
        session, [(SignalType.MD5, analysis.md5), (SignalType.SHA256, analysis.sha256)]
    )
    matches = best_per_entry(pdq_matches(session, index, analysis.dihedral) + exact)
    audit.record(
        session,
        "bank.query",
        actor_user_id=actor_user_id,
        details={
            "sha256": analysis.sha256,
            "pdq": analysis.dihedral[0],
            "matched_entry_ids": [match.entry_id for match in matches],
        },
    )
    session.commit()
    return matches
