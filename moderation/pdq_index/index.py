"""PdqIndex: exact PDQ near-duplicate search over a shared base segment plus a small delta.

Contract for callers (the triage workers and the bank refresh job):
- Entry ids are the database primary keys of bank entries: unique and never reused.
- Each worker process opens the index once (`PdqIndex.open`), then every few seconds calls
  `refresh()` (picks up a rebuilt base) and `add()`s the entries whose id is above
  `high_water_id` (ask the database for `id > high_water_id`), and `remove()`s withdrawn ids.
  New entries are searchable in that process as soon as add() returns.
- One job (cron) calls `build()` from a database snapshot, or `compact()`, when the delta grows
  (each delta entry is scanned on every search: keep it below ~100k); readers switch on refresh.
- An instance is not thread-safe; use one per process or thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from moderation.pdq_index.chunks import MAX_SUPPORTED_DISTANCE
from moderation.pdq_index.codec import as_hash_matrix, popcount_rows, to_words
from moderation.pdq_index.errors import (
    DuplicateIdError,
    InvalidHashError,
    UnsupportedDistanceError,
)
from moderation.pdq_index.segment import COLD_ARRAYS, BaseSegment, build_arrays
from moderation.pdq_index.storage import current_version, map_version, write_version

# Queries are searched in batches so the candidate arrays of a huge batch stay small.
_QUERY_BATCH = 256
# Delta scan: XOR at most this many (query, entry) pairs at once.
_DELTA_PAIRS = 1 << 22

Hashes = np.ndarray | Sequence[bytes]


class PdqIndex:
    """Exact search for entries within a Hamming distance (<= 31) of PDQ hashes."""

    def __init__(self, directory: Path, version: str, segment: BaseSegment, meta: dict) -> None:
        """Use `build` or `open`; this only binds an already mapped base segment."""
        self.directory = directory
        self.version = version
        self._segment = segment
        self._base_high_water: int | None = meta.get("high_water_id")
        self._delta_ids: list[np.ndarray] = []
        self._delta_words: list[np.ndarray] = []
        self._removed = np.empty(0, dtype=np.int64)
        self._live_count: int | None = None

    @classmethod
    def build(
        cls,
        directory: Path,
        ids: np.ndarray | Sequence[int],
        hashes: Hashes,
        *,
        high_water_id: int | None = None,
    ) -> PdqIndex:
        """Write a new base segment of (ids, hashes) into `directory`, make it current, open it.

        `hashes` is an (n, 32) uint8 matrix in reference byte order (or a list of 32-byte
        values). `high_water_id` is the largest id the snapshot is known to contain (default:
        max(ids)); readers drop delta entries at or below it when they refresh. Raises
        InvalidHashError or DuplicateIdError on bad input, before anything is written.
        """
        entry_ids, matrix = _validated(ids, hashes)
        arrays, meta = build_arrays(entry_ids, to_words(matrix))
        if high_water_id is None and entry_ids.size:
            high_water_id = int(entry_ids.max())
        meta["high_water_id"] = high_water_id
        write_version(Path(directory), arrays, meta, cold=COLD_ARRAYS)
        return cls.open(directory)

    @classmethod
    def open(cls, directory: Path, *, populate: bool = True) -> PdqIndex:
        """Map the current base segment read-only (shared with every other process); no copy.

        Raises IndexFormatError if the directory holds no readable index.
        """
        directory = Path(directory)
        version = current_version(directory)
        arrays, meta = map_version(directory, version, populate)
        return cls(directory, version, BaseSegment(arrays, meta), meta)

    def refresh(self) -> bool:
        """Switch to a newer base segment if one was built; returns whether it switched.

        Delta entries with ids at or below the new base's high-water id are dropped (the new
        base holds them); tombstones are kept.
        """
        version = current_version(self.directory)
        if version == self.version:
            return False
        arrays, meta = map_version(self.directory, version, populate=True)
        self._switch(version, BaseSegment(arrays, meta), meta)
        return True

    def compact(self) -> str:
        """Write base + delta - removed entries as a new base segment and switch to it.

        Reads every base entry (about 20 s at 10 million hashes); other processes keep using
        the old base until they refresh. Returns the new version's name.
        """
        segment = self._segment
        base_ids = segment.all_ids()
        delta_ids, delta_words = self._delta()
        ids = np.concatenate([base_ids, delta_ids])
        words = np.concatenate([segment.all_words(), delta_words])
        live = ~np.isin(ids, self._removed)
        arrays, meta = build_arrays(ids[live], words[live])
        meta["high_water_id"] = self.high_water_id
        version = write_version(self.directory, arrays, meta, cold=COLD_ARRAYS)
        arrays, meta = map_version(self.directory, version, populate=True)
        self._switch(version, BaseSegment(arrays, meta), meta)
        return version

    def add(self, ids: np.ndarray | Sequence[int], hashes: Hashes) -> None:
        """Make (ids, hashes) searchable in this process at once (in-memory delta, O(batch)).

        Raises InvalidHashError on malformed input and DuplicateIdError if an id repeats within
        the batch or is already in the delta.
        """
        entry_ids, matrix = _validated(ids, hashes)
        if entry_ids.size == 0:
            return
        known, _ = self._delta()
        if np.isin(entry_ids, known).any():
            raise DuplicateIdError("an id being added is already in the index delta")
        self._delta_ids.append(entry_ids)
        self._delta_words.append(to_words(matrix).copy())
        self._live_count = None

    def remove(self, ids: np.ndarray | Sequence[int]) -> None:
        """Hide entries (withdrawn by a bank) from every later search in this process.

        Unknown ids are accepted, so a withdrawal seen before its entry still hides it.
        A rebuild from the database, or `compact()`, drops them for good.
        """
        removed = np.asarray(ids)
        if removed.size and not np.issubdtype(removed.dtype, np.integer):
            raise InvalidHashError("ids must be integers")
        removed = removed.astype(np.int64).ravel()
        self._removed = np.union1d(self._removed, removed)
        self._live_count = None

    def search(self, queries: Hashes, max_distance: int = MAX_SUPPORTED_DISTANCE) -> list:
        """Every live entry within `max_distance` of each query, exactly (no missed match).

        `queries` is a (q, 32) uint8 matrix (or list of 32-byte values), e.g. the 8 dihedral
        hashes of one image. Returns, per query, a list of (entry id, distance) sorted by
        distance then id, each id once. Raises UnsupportedDistanceError unless
        0 <= max_distance <= 31 (beyond 31 the probe counts explode; use a scan instead).
        """
        if not isinstance(max_distance, int) or not 0 <= max_distance <= MAX_SUPPORTED_DISTANCE:
            raise UnsupportedDistanceError("max_distance must be an integer in 0..31")
        words = to_words(as_hash_matrix(queries))
        results: list = []
        for start in range(0, len(words), _QUERY_BATCH):
            results.extend(self._search_batch(words[start : start + _QUERY_BATCH], max_distance))
        return results

    @property
    def high_water_id(self) -> int | None:
        """Largest id this process has seen (base snapshot or delta): poll for ids above it."""
        delta_ids, _ = self._delta()
        candidates = [self._base_high_water] + ([int(delta_ids.max())] if delta_ids.size else [])
        known = [value for value in candidates if value is not None]
        return max(known) if known else None

    @property
    def delta_size(self) -> int:
        """Entries added since the base was built (each is scanned by every search)."""
        return sum(part.size for part in self._delta_ids)

    def __len__(self) -> int:
        """Number of searchable entries (base + delta, minus removed ones)."""
        if self._live_count is None:
            delta_ids, _ = self._delta()
            stored = self._segment.count + delta_ids.size
            hidden = 0
            if self._removed.size:
                hidden = int(np.isin(self._segment.all_ids(), self._removed).sum())
                hidden += int(np.isin(delta_ids, self._removed).sum())
            self._live_count = stored - hidden
        return self._live_count

    def _search_batch(self, words: np.ndarray, max_distance: int) -> list:
        rows, positions, distances = self._segment.search(words, max_distance)
        ids = self._segment.entry_ids(positions)
        delta_rows, delta_ids, delta_distances = self._scan_delta(words, max_distance)
        rows = np.concatenate([rows, delta_rows])
        ids = np.concatenate([ids, delta_ids])
        distances = np.concatenate([distances, delta_distances])
        if self._removed.size:
            live = ~np.isin(ids, self._removed)
            rows, ids, distances = rows[live], ids[live], distances[live]
        # One hash can be found through several chunks: keep each (query, id) once.
        order = np.lexsort((ids, distances, rows))
        rows, ids, distances = rows[order], ids[order], distances[order]
        pair_keys = np.stack([rows, ids], axis=1)
        _, first = np.unique(pair_keys, axis=0, return_index=True)
        keep = np.sort(first)
        rows, ids, distances = rows[keep], ids[keep], distances[keep]
        boundaries = np.searchsorted(rows, np.arange(1, len(words)))
        pairs = list(zip(ids.tolist(), distances.tolist(), strict=True))
        edges = [0, *boundaries.tolist(), len(pairs)]
        return [pairs[edges[row] : edges[row + 1]] for row in range(len(words))]

    def _scan_delta(self, words: np.ndarray, max_distance: int) -> tuple[np.ndarray, ...]:
        delta_ids, delta_words = self._delta()
        rows_out, ids_out, distances_out = [], [], []
        if delta_ids.size:
            per_pass = max(1, _DELTA_PAIRS // delta_ids.size)
            for start in range(0, len(words), per_pass):
                batch = words[start : start + per_pass]
                xor = delta_words[None, :, :] ^ batch[:, None, :]
                distances = popcount_rows(xor.reshape(-1, 4)).reshape(len(batch), -1)
                rows, columns = np.nonzero(distances <= max_distance)
                rows_out.append(rows + start)
                ids_out.append(delta_ids[columns])
                distances_out.append(distances[rows, columns])
        empty = np.empty(0, dtype=np.int64)
        return (
            np.concatenate(rows_out) if rows_out else empty,
            np.concatenate(ids_out) if ids_out else empty,
            np.concatenate(distances_out) if distances_out else empty,
        )

    def _delta(self) -> tuple[np.ndarray, np.ndarray]:
        """The delta as one (ids, words) pair; merged in place so later calls are free."""
        if len(self._delta_ids) != 1:
            merged_ids = np.concatenate([np.empty(0, dtype=np.int64), *self._delta_ids])
            merged_words = np.concatenate([np.empty((0, 4), dtype=np.uint64), *self._delta_words])
            self._delta_ids, self._delta_words = [merged_ids], [merged_words]
        return self._delta_ids[0], self._delta_words[0]

    def _switch(self, version: str, segment: BaseSegment, meta: dict) -> None:
        self.version = version
        self._segment = segment
        self._base_high_water = meta.get("high_water_id")
        if self._base_high_water is not None:
            delta_ids, delta_words = self._delta()
            newer = delta_ids > self._base_high_water
            self._delta_ids, self._delta_words = [delta_ids[newer]], [delta_words[newer]]
        self._live_count = None


def _validated(ids: np.ndarray | Sequence[int], hashes: Hashes) -> tuple[np.ndarray, np.ndarray]:
    """(int64 ids, (n, 32) uint8 hashes) after checking types, lengths and uniqueness."""
    raw_ids = np.asarray(ids)
    if raw_ids.ndim != 1 or (raw_ids.size and not np.issubdtype(raw_ids.dtype, np.integer)):
        raise InvalidHashError("ids must be a one-dimensional sequence of integers")
    entry_ids = raw_ids.astype(np.int64)
    matrix = as_hash_matrix(hashes)
    if len(matrix) != entry_ids.size:
        raise InvalidHashError("ids and hashes differ in length")
    if np.unique(entry_ids).size != entry_ids.size:
        raise DuplicateIdError("ids must be unique")
    return entry_ids, matrix
