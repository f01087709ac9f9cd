"""Bank lookups for triage: which active entries of enabled banks a medium's hashes match.

PDQ goes through the process-wide index (all eight dihedral hashes, at the widest threshold,
then each bank's own threshold); exact hashes and video frame lists go to the database. Every
candidate is re-checked against the database, so a withdrawn entry never matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from models import Bank, BankEntry, BankHit, BankKind, EntryStatus, SignalType
from moderation.banks.index import BankIndex
from moderation.media.video import FrameHash, match_videos

# PDQ below this quality is too flat to identify anything; exact hashes still apply.
MIN_PDQ_QUALITY = 50
# The index searches this wide once; each bank's own threshold is applied afterwards.
MAX_PDQ_DISTANCE = 31
_IN_CHUNK = 1000
_VIDEO_BATCH = 200


@dataclass(frozen=True)
class BankMatch(BankHit):
    """One bank entry a medium matched, as stored on a "bank" signal (see models/signals.py)."""

    @property
    def reason_code(self) -> str:
        """The triage policy's reason code: bank.<kind> (see moderation/triage/policy.py)."""
        kinds = {str(kind) for kind in BankKind}
        return f"bank.{self.bank_kind}" if self.bank_kind in kinds else "bank.other"


def matchable(query: Any) -> Any:
    """`query` (over BankEntry) limited to entries that may match: active, in an enabled bank."""
    return query.join(Bank, Bank.id == BankEntry.bank_id).where(
        BankEntry.status == EntryStatus.ACTIVE, Bank.enabled.is_(True)
    )


def _columns() -> Any:
    return select(
        BankEntry.id,
        BankEntry.signal_type,
        BankEntry.signal_value,
        Bank.id,
        Bank.name,
        Bank.kind,
        Bank.action_hint,
        Bank.pdq_threshold,
    )


def _match(row: Any, distance: int, share: float | None = None) -> BankMatch:
    return BankMatch(
        bank_id=row[3],
        bank_name=row[4],
        bank_kind=str(row[5]),
        action_hint=str(row[6]),
        entry_id=int(row[0]),
        signal_type=str(row[1]),
        distance=distance,
        video_share=share,
    )


def _pdq_distance(value: str, queries: Sequence[int]) -> int:
    target = int(value, 16)
    return min((target ^ query).bit_count() for query in queries)


def pdq_matches(session: Session, index: BankIndex, pdq_hexes: Sequence[str]) -> list[BankMatch]:
    """Active PDQ entries of enabled banks within their bank's threshold of any of `pdq_hexes`
    (no quality gate: callers decide). Raises ValueError on a malformed hash."""
    queries = [hex_value.lower() for hex_value in pdq_hexes]
    candidates = index.search(session, queries, MAX_PDQ_DISTANCE)
    query_ints = [int(hex_value, 16) for hex_value in queries]
    found = []
    ids = sorted(candidates)
    for start in range(0, len(ids), _IN_CHUNK):
        rows = session.execute(
            matchable(_columns()).where(
                BankEntry.id.in_(ids[start : start + _IN_CHUNK]),
                BankEntry.signal_type == SignalType.PDQ,
            )
        ).all()
        for row in rows:
            # Recomputed from the stored hash: the index only proposes candidates.
            distance = _pdq_distance(row[2], query_ints)
            if distance <= row[7]:
                found.append(_match(row, distance))
    return found


def exact_matches(session: Session, wanted: Sequence[tuple[SignalType, str]]) -> list[BankMatch]:
    """Active entries of enabled banks equal to any (type, value) of `wanted`, in one query
    (an image's MD5 and SHA-256 are one round trip, not two)."""
    if not wanted:
        return []
    rows = session.execute(
        matchable(_columns()).where(
            or_(
                *(
                    and_(BankEntry.signal_type == kind, BankEntry.signal_value == value.lower())
                    for kind, value in wanted
                )
            )
        )
    ).all()
    return [_match(row, 0) for row in rows]


def best_per_entry(matches: Iterable[BankMatch]) -> list[BankMatch]:
    """Each entry's closest match, closest first (then by bank and entry id)."""
    best: dict[int, BankMatch] = {}
    for match in matches:
        if match.entry_id not in best or match.distance < best[match.entry_id].distance:
            best[match.entry_id] = match
    return sorted(best.values(), key=lambda m: (m.distance, m.bank_id, m.entry_id))


def match_media(
    session: Session,
    index: BankIndex | None,
    *,
    pdq_dihedral: list[str] | None,
    pdq_quality: int | None,
    md5: str | None,
    sha256: str | None,
) -> list[BankMatch]:
    """Bank matches of one image: PDQ (all eight dihedral hashes, original first) only when
    `pdq_quality` >= 50 and an `index` is given (this process's, see banks/index.py; None
    matches exactly only); MD5 and SHA-256 exactly, always. Only active entries of enabled
    banks, each bank's PDQ threshold applied, best match per entry, sorted by distance.
    Read-only; raises ValueError on a malformed PDQ hash."""
    matches: list[BankMatch] = []
    if index and pdq_dihedral and pdq_quality is not None and pdq_quality >= MIN_PDQ_QUALITY:
        matches.extend(pdq_matches(session, index, pdq_dihedral))
    hashes = ((SignalType.MD5, md5), (SignalType.SHA256, sha256))
    matches.extend(exact_matches(session, [(kind, value) for kind, value in hashes if value]))
    return best_per_entry(matches)


def match_video(session: Session, frame_hashes: list[dict[str, Any]]) -> list[BankMatch]:
    """Video entries whose frames match `frame_hashes` (FrameHash dicts) the vPDQ way (shares
    both ways >= 0.7, frame distance within the bank's threshold). A linear scan over active
    video entries of enabled banks, fine for thousands of banked videos, not millions.
    Raises ValueError (or KeyError/TypeError) on malformed frame dicts."""
    query = [FrameHash.from_dict(frame) for frame in frame_hashes]
    if not query:
        return []
    found = []
    last_id = 0
    while True:
        rows = session.execute(
            matchable(select(BankEntry.id, BankEntry.video_frames, Bank.pdq_threshold))
            .where(BankEntry.signal_type == SignalType.VIDEO, BankEntry.id > last_id)
            .order_by(BankEntry.id)
            .limit(_VIDEO_BATCH)
        ).all()
        if not rows:
            break
        last_id = rows[-1][0]
        for entry_id, frames, threshold in rows:
            target = [FrameHash.from_dict(frame) for frame in frames or []]
            verdict = match_videos(query, target, pdq_threshold=threshold)
            if verdict.matched:
                found.append((entry_id, min(verdict.query_match_share, verdict.target_match_share)))
    matches = []
    for entry_id, share in found:
        row = session.execute(matchable(_columns()).where(BankEntry.id == entry_id)).first()
        if row is not None:
            matches.append(_match(row, 0, round(share, 3)))
    return best_per_entry(matches)
