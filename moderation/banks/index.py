"""The PDQ index of bank entries against the database: build, open, incremental refresh, rebuild.

Each process opens the index directory memory-mapped (the page cache is shared, so memory does
not multiply with worker processes) and, every BANK_INDEX_REFRESH_SECONDS, adds the PDQ entries
whose id is above the highest id it has seen. The index is only a candidate generator: every hit
is re-checked against the database (status, bank enabled, threshold, distance recomputed from
the stored hash), so a withdrawal stops matching at once, with no refresh and no tombstone, and
a re-activated entry matches again at once. The index therefore holds every PDQ entry whatever
its state; a periodic rebuild from the database (`rebuild_index`) compacts the delta.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import BankEntry, SignalType
from moderation.core import locks
from moderation.pdq_index import IndexFormatError, PdqIndex, hashes_from_hex

log = logging.getLogger(__name__)

_READ_BATCH = 50_000


@dataclass(frozen=True)
class IndexSettings:
    directory: Path
    refresh_seconds: float = 30.0
    compact_at: int = 50_000
    rebuild_after_seconds: float = 6 * 3600.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> IndexSettings:
        """BANK_INDEX_DIR (config.py defaults it to <instance>/pdq-index),
        BANK_INDEX_REFRESH_SECONDS, BANK_INDEX_COMPACT_AT and BANK_INDEX_REBUILD_SECONDS."""
        return cls(
            directory=Path(config["BANK_INDEX_DIR"]),
            refresh_seconds=float(config.get("BANK_INDEX_REFRESH_SECONDS", 30)),
            compact_at=int(config.get("BANK_INDEX_COMPACT_AT", 50_000)),
            rebuild_after_seconds=float(config.get("BANK_INDEX_REBUILD_SECONDS", 6 * 3600)),
        )


def lock_entry_writes(session: Session) -> None:
    """Call in a transaction before it inserts bank entries; held until it commits.

    Refresh polls `id > high-water mark`, which is only exact if entries become visible in id
    order. Two unserialised writers break that (one takes id 10 and commits after the other's
    id 11 was polled, so 10 is never seen). Holding this lock from before the insert (when the
    id is drawn) until the commit makes commit order equal id order. SQLite already serialises
    writers with its database lock.
    """
    locks.lock_for_transaction(session, locks.BANK_ENTRY_WRITES)


def _pdq_rows(session: Session, after_id: int, limit: int) -> list[tuple[int, str]]:
    rows = session.execute(
        select(BankEntry.id, BankEntry.signal_value)
        .where(BankEntry.signal_type == SignalType.PDQ, BankEntry.id > after_id)
        .order_by(BankEntry.id)
        .limit(limit)
    ).all()
    return [(int(row[0]), row[1]) for row in rows]


def build_from_database(session: Session, directory: Path) -> PdqIndex:
    """Write a new base segment of every PDQ entry (in batches, ids in order) and open it.

    The high-water id is the largest entry id of any type at the start, so readers poll above
    it; writers commit in id order (`lock_entry_writes`), so nothing below it is still to come.
    """
    high_water = session.execute(select(func.max(BankEntry.id))).scalar_one_or_none() or 0
    id_parts: list[np.ndarray] = []
    hash_parts: list[np.ndarray] = []
    last_id = 0
    while True:
        rows = _pdq_rows(session, last_id, _READ_BATCH)
        rows = [row for row in rows if row[0] <= high_water]
        if not rows:
            break
        id_parts.append(np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)))
        hash_parts.append(hashes_from_hex(row[1] for row in rows))
        last_id = rows[-1][0]
    session.rollback()  # end the read transaction; nothing was written
    ids = np.concatenate([np.empty(0, dtype=np.int64), *id_parts])
    hashes = np.concatenate([np.empty((0, 32), dtype=np.uint8), *hash_parts])
    log.info("bank index: built a base of %d PDQ entries", ids.size)
    return PdqIndex.build(directory, ids, hashes, high_water_id=int(high_water))


class BankIndex:
    """One process's handle on the shared index, refreshed from the database when due.

    Thread-safe (a lock around the underlying PdqIndex, which is not). `clock` is injectable
    so tests drive the refresh period without sleeping.
    """

    def __init__(self, settings: IndexSettings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.clock = clock
        self._index: PdqIndex | None = None
        self._last_refresh: float | None = None
        self._lock = threading.RLock()

    def _ensure_open(self, session: Session) -> PdqIndex:
        if self._index is None:
            try:
                self._index = PdqIndex.open(self.settings.directory)
            except IndexFormatError:
                self._index = build_from_database(session, self.settings.directory)
            self._last_refresh = None
        return self._index

    def refresh(self, session: Session, *, force: bool = False) -> int:
        """Add every PDQ entry committed since the last look (always: a confirmed image banked
        by a decision in a web process must stop its next re-share in every worker at once),
        and pick up a rebuilt base when the period has passed (or `force`). Returns how many
        entries were added."""
        with self._lock:
            index = self._ensure_open(session)
            now = self.clock()
            if (
                force
                or self._last_refresh is None
                or now - self._last_refresh >= self.settings.refresh_seconds
            ):
                try:
                    index.refresh()
                except IndexFormatError:
                    # A base this code cannot read (another release's, during a rolling upgrade,
                    # or damaged): build our own from the database rather than fail every lookup.
                    log.warning("bank index: unreadable new base; rebuilding")
                    index = self._index = build_from_database(session, self.settings.directory)
                self._last_refresh = now
            # The new rows above the high-water mark: a primary-key range scan that finds
            # nothing in the usual case, so it is cheap enough to run before every search.
            added = 0
            while True:
                rows = _pdq_rows(session, index.high_water_id or 0, _READ_BATCH)
                if not rows:
                    break
                index.add([row[0] for row in rows], hashes_from_hex(row[1] for row in rows))
                added += len(rows)
            return added

    def search(
        self, session: Session, pdq_hexes: Sequence[str], max_distance: int
    ) -> dict[int, int]:
        """Candidate entry id -> smallest distance to any of `pdq_hexes` (refreshed first, see
        `refresh`). Candidates must still be checked against the database."""
        if not pdq_hexes:
            return {}
        self.refresh(session)
        with self._lock:
            assert self._index is not None  # opened by refresh()
            results = self._index.search(hashes_from_hex(pdq_hexes), max_distance)
        best: dict[int, int] = {}
        for per_query in results:
            for entry_id, distance in per_query:
                if entry_id not in best or distance < best[entry_id]:
                    best[entry_id] = int(distance)
        return best

    def stats(self) -> dict[str, Any]:
        with self._lock:
            if self._index is None:
                return {"open": False}
            return {
                "open": True,
                "version": self._index.version,
                "entries": len(self._index),
                "delta": self._index.delta_size,
                "high_water_id": self._index.high_water_id,
            }

    def maintain(self, session: Session) -> dict[str, Any]:
        """Refresh, then rebuild the base from the database when the delta has grown past
        `compact_at` or the base is older than `rebuild_after_seconds`. Readers keep the old
        base until their next refresh (atomic switch)."""
        self.refresh(session, force=True)
        with self._lock:
            assert self._index is not None
            folder = self.settings.directory / self._index.version
            age = time.time() - folder.stat().st_mtime
            due = (
                self._index.delta_size >= self.settings.compact_at
                or age >= self.settings.rebuild_after_seconds
            )
        rebuilt = False
        if due:
            rebuilt_index = build_from_database(session, self.settings.directory)
            with self._lock:
                self._index = rebuilt_index
            self.refresh(session, force=True)
            rebuilt = True
        return {**self.stats(), "rebuilt": rebuilt}

    def rebuild(self, session: Session) -> dict[str, Any]:
        """Build a new base from the database now and switch this process to it."""
        index = build_from_database(session, self.settings.directory)
        with self._lock:
            self._index = index
            self._last_refresh = None
        self.refresh(session, force=True)
        return self.stats()


_instances: dict[tuple[int, str], BankIndex] = {}
_instances_lock = threading.Lock()


def bank_index_for(settings: IndexSettings) -> BankIndex:
    """This process's BankIndex for the settings' directory (created lazily, never across a
    fork: the key includes the process id)."""
    key = (os.getpid(), str(settings.directory.resolve()))
    with _instances_lock:
        instance = _instances.get(key)
        if instance is None:
            instance = BankIndex(settings)
            _instances[key] = instance
        else:
            instance.settings = settings  # periods and limits follow the current config
        return instance
