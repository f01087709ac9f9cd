"""The immutable base segment: hashes sorted by chunk 0 plus one sorted posting table per chunk.

Per hash it stores the 32-byte hash, the entry id (4 bytes relative to the smallest id when the
ids span less than 2**32, else 8), a 3-byte position (4 beyond 2**24 entries) in each of the ten
secondary tables, and about 0.9 byte of bucket offsets per table (offsets.py). Table 0 needs no
positions: the hashes themselves are kept in chunk-0 order, so its buckets are contiguous runs.

Only the first half of each hash is read for every candidate: a hash within r bits of the query
is within r bits on any half of it, and an unrelated candidate almost never is (at 10M hashes,
4.4 of ~26,400 candidates per image pass, 0.6 distinct entries). The second half and the ids
(COLD_ARRAYS) are read only for the candidates that pass, so they are stored apart and read with
pread (storage.py): 20 of the ~75.5 bytes per hash never need to be in memory, and exactness is
kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from moderation.pdq_index.chunks import (
    CHUNK_COUNT,
    chunk_bits_for,
    chunk_values,
    probe_masks,
    radius_plan,
)
from moderation.pdq_index.codec import popcount_rows
from moderation.pdq_index.offsets import CompactOffsets, encode_offsets
from moderation.pdq_index.storage import ColdArray

# Above this many candidates per query a plain scan is cheaper than gathering them one by one,
# which only happens for pathological data (a bank full of one near-identical hash).
SCAN_FRACTION = 0.25
# Positions into a segment of at most this many entries fit in 3 bytes.
THREE_BYTE_POSITIONS = 2**24
# The 64-bit words of a hash read for every candidate; the rest only to confirm one.
HOT_WORDS = 2
# Arrays read only for confirmed candidates (storage keeps them in a file that is not preloaded).
COLD_ARRAYS = frozenset({"hashes_cold", "ids"})


def build_arrays(
    ids: np.ndarray, words: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Sort and encode a snapshot into the named arrays and metadata of a base segment.

    `ids` is int64 (n,), unique; `words` is the (n, 4) uint64 view of the hashes.
    """
    count = int(ids.size)
    bits = chunk_bits_for(count)
    buckets = 1 << bits
    first_keys = chunk_values(words, 0, bits)
    order = np.argsort(first_keys, kind="stable")
    words = words[order]
    ids = ids[order]
    id_base = int(ids.min()) if count else 0
    compact_ids = count == 0 or int(ids.max()) - id_base < 2**32
    if not compact_ids:
        id_base = 0  # ids are stored as they are
    arrays: dict[str, np.ndarray] = {
        "hashes_hot": np.ascontiguousarray(words[:, :HOT_WORDS]),
        "hashes_cold": np.ascontiguousarray(words[:, HOT_WORDS:]),
        "ids": (ids - id_base).astype(np.uint32) if compact_ids else ids.astype(np.int64),
    }
    position_bytes = 3 if count <= THREE_BYTE_POSITIONS else 4
    for chunk in range(CHUNK_COUNT):
        keys = first_keys[order] if chunk == 0 else chunk_values(words, chunk, bits)
        for name, array in encode_offsets(np.bincount(keys, minlength=buckets)).items():
            arrays[f"{name}{chunk}"] = array
        if chunk:
            positions = np.argsort(keys, kind="stable").astype(np.uint32)
            if position_bytes == 3:
                # Two flat arrays (low 16 bits, high 8 bits) gather faster than 3-byte rows.
                arrays[f"positions_low{chunk}"] = (positions & 0xFFFF).astype(np.uint16)
                arrays[f"positions_high{chunk}"] = (positions >> 16).astype(np.uint8)
            else:
                arrays[f"positions{chunk}"] = positions
        del keys
    meta = {
        "count": count,
        "chunk_bits": bits,
        "chunk_count": CHUNK_COUNT,
        "id_base": id_base,
        "position_bytes": position_bytes,
    }
    return arrays, meta


@dataclass
class _Table:
    offsets: CompactOffsets
    # Positions into the hashes in this table's order; both None for table 0 (the hashes are
    # stored in its order). `high` holds bits 16..23 when positions take 3 bytes, else None.
    positions: np.ndarray | None
    positions_high: np.ndarray | None


class BaseSegment:
    """Read-only search over the arrays of one base segment (possibly memory-mapped)."""

    def __init__(self, arrays: dict[str, Any], meta: dict[str, Any]) -> None:
        self.count: int = int(meta["count"])
        self.bits: int = int(meta["chunk_bits"])
        self.chunk_count: int = int(meta["chunk_count"])
        self.id_base: int = int(meta["id_base"])
        self.hot: np.ndarray = arrays["hashes_hot"]
        # Read with pread for confirmed candidates only (storage.ColdArray).
        self.cold: ColdArray = arrays["hashes_cold"]
        self.ids: ColdArray = arrays["ids"]
        self.tables = [
            _Table(
                CompactOffsets.from_arrays(
                    arrays[f"high{chunk}"],
                    arrays[f"low{chunk}"],
                    arrays[f"exception_blocks{chunk}"],
                    arrays[f"exception_offsets{chunk}"],
                ),
                arrays.get(f"positions{chunk}", arrays.get(f"positions_low{chunk}")),
                arrays.get(f"positions_high{chunk}"),
            )
            for chunk in range(self.chunk_count)
        ]

    def entry_ids(self, positions: np.ndarray) -> np.ndarray:
        """Caller ids (int64) of the given positions."""
        return self.ids.take(positions).astype(np.int64) + self.id_base

    def all_ids(self) -> np.ndarray:
        """Every entry id (int64), in storage order; reads the whole ids array."""
        return self.ids.read_all().astype(np.int64) + self.id_base

    def all_words(self) -> np.ndarray:
        """Every hash as an (n, 4) uint64 word matrix, in storage order; reads both halves."""
        return np.concatenate([self.hot, self.cold.read_all()], axis=1)

    def search(self, queries: np.ndarray, max_distance: int) -> tuple[np.ndarray, ...]:
        """All (query row, position, distance) with distance <= max_distance, exactly.

        `queries` is an (q, 4) uint64 word matrix; max_distance must already be validated
        (0..31 keeps the probe counts small; larger values stay exact but get slow).
        Duplicates (one hash found through several chunks) are possible; the caller dedupes.
        """
        empty = np.empty(0, dtype=np.int64)
        if self.count == 0 or len(queries) == 0:
            return empty, empty, empty
        candidates = self._candidates(queries, max_distance)
        if candidates is None:
            return self._scan(queries, max_distance)
        query_rows, positions = candidates
        near = popcount_rows(
            np.take(self.hot, positions, axis=0) ^ np.take(queries[:, :HOT_WORDS], query_rows, 0)
        )
        return self._confirm(queries, max_distance, query_rows, positions, near)

    def _confirm(
        self,
        queries: np.ndarray,
        max_distance: int,
        query_rows: np.ndarray,
        positions: np.ndarray,
        near: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        """The candidates within max_distance on all bits, given their distances on the hot
        words (`near`): only those already within it there read their cold half."""
        keep = near <= max_distance
        query_rows, positions, near = query_rows[keep], positions[keep], near[keep]
        far = popcount_rows(
            self.cold.take(positions) ^ np.take(queries[:, HOT_WORDS:], query_rows, 0)
        )
        distances = near + far
        keep = distances <= max_distance
        return query_rows[keep], positions[keep], distances[keep]

    def _candidates(
        self, queries: np.ndarray, max_distance: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Every (query row, position) in a probed bucket, a superset of the true matches;
        None when there are so many that a plain scan is cheaper."""
        base, raised = radius_plan(max_distance, self.chunk_count)
        top = base + 1 if raised else base  # >= 0 for every max_distance >= 0
        masks, weights = probe_masks(self.bits, top)
        query_count = len(queries)
        bucket_runs = []
        ring_sizes = np.zeros((query_count, self.chunk_count), dtype=np.int64)
        for chunk, table in enumerate(self.tables):
            probes = chunk_values(queries, chunk, self.bits)[:, None] ^ masks[None, :]
            probes = probes.astype(np.int64).ravel()
            # Starts and ends in one lookup: offsets[v] and offsets[v + 1].
            bounds = table.offsets.lookup(np.concatenate([probes, probes + 1]))
            starts = bounds[: probes.size].reshape(query_count, -1)
            sizes = bounds[probes.size :].reshape(query_count, -1) - starts
            ring_sizes[:, chunk] = sizes[:, weights == top].sum(axis=1)
            bucket_runs.append((starts, sizes))
        # Per query, only the `raised` chunks whose outer ring holds the fewest entries are probed
        # to the larger radius; the rest stop one short. That keeps hot buckets out.
        if raised:
            outer_ring = np.zeros_like(ring_sizes, dtype=bool)
            cheapest = np.argsort(ring_sizes, axis=1, kind="stable")[:, :raised]
            np.put_along_axis(outer_ring, cheapest, True, axis=1)
            inner = weights[None, :] < top
            bucket_runs = [
                (starts, np.where(inner | outer_ring[:, chunk : chunk + 1], sizes, 0))
                for chunk, (starts, sizes) in enumerate(bucket_runs)
            ]
        total = sum(int(sizes.sum()) for _, sizes in bucket_runs)
        if total > SCAN_FRACTION * self.count * query_count:
            return None
        owners = np.repeat(np.arange(query_count), masks.size)
        rows_out, positions_out = [], []
        for chunk, (starts, sizes) in enumerate(bucket_runs):
            sizes = sizes.ravel()
            nonzero = sizes > 0
            sizes, run_owners = sizes[nonzero], owners[nonzero]
            if sizes.size == 0:
                continue
            starts = starts.ravel()[nonzero]
            run_offsets = np.cumsum(sizes) - sizes
            slots = np.arange(int(run_offsets[-1] + sizes[-1])) + np.repeat(
                starts - run_offsets, sizes
            )
            rows_out.append(np.repeat(run_owners, sizes))
            positions_out.append(self._positions(chunk, slots))
        if not rows_out:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        return np.concatenate(rows_out), np.concatenate(positions_out)

    def _positions(self, chunk: int, slots: np.ndarray) -> np.ndarray:
        table = self.tables[chunk]
        if table.positions is None:
            return slots
        positions = np.take(table.positions, slots).astype(np.int64)
        if table.positions_high is not None:
            positions |= np.take(table.positions_high, slots).astype(np.int64) << 16
        return positions

    def _scan(self, queries: np.ndarray, max_distance: int) -> tuple[np.ndarray, ...]:
        rows, positions, near = [], [], []
        for row, query in enumerate(queries):
            for start in range(0, self.count, 1 << 20):
                block = self.hot[start : start + (1 << 20)]
                found_distances = popcount_rows(block ^ query[:HOT_WORDS])
                found = np.flatnonzero(found_distances <= max_distance)
                rows.append(np.full(found.size, row, dtype=np.int64))
                positions.append(found + start)
                near.append(found_distances[found])
        return self._confirm(
            queries,
            max_distance,
            np.concatenate(rows),
            np.concatenate(positions),
            np.concatenate(near),
        )
