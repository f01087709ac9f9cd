"""Bucket offsets in about one byte per bucket instead of four.

A sorted table with 2**bits buckets needs offsets[v] (where bucket v starts). We keep the exact
uint32 offset only at the start of every block of 2**block_shift buckets (`high`) and the low
byte of every offset (`low`); inside a block an offset is high + ((low - high) mod 256), exact
while the block's first buckets hold fewer than 256 entries. Blocks that hold more (hot buckets:
many near-identical hashes) are stored in full in a small exception table.

The block size adapts to the table: as large as keeps an average block well under 256 entries,
so `high` costs little (0.25 bit per bucket with blocks of 128) and exceptions stay rare. It is
not stored: it is the ratio of the two arrays' lengths, so files written with any block size
(including the fixed 16 of earlier versions) decode the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from moderation.pdq_index.errors import IndexFormatError

# Largest and smallest block (as shifts). 128 buckets already make `high` nearly free; blocks
# below 4 only matter for tables holding over ~50 entries per bucket.
MAX_BLOCK_SHIFT = 7
MIN_BLOCK_SHIFT = 2
# Aim for blocks of at most this many entries on average: a random block then exceeds 255 only
# some eight standard deviations out, so exceptions come from genuinely hot buckets alone.
_BLOCK_ENTRY_TARGET = 160


@dataclass(frozen=True)
class CompactOffsets:
    """Decoder for one table's offsets; arrays may be read-only views of a memory-mapped file."""

    high: np.ndarray  # uint32, one per block, plus one for the end
    low: np.ndarray  # uint8, one per bucket, plus one for the end
    exception_blocks: np.ndarray  # int64, sorted block numbers stored in full
    exception_offsets: np.ndarray  # uint32, (len(exception_blocks), block size)
    block_shift: int

    @classmethod
    def from_arrays(
        cls,
        high: np.ndarray,
        low: np.ndarray,
        exception_blocks: np.ndarray,
        exception_offsets: np.ndarray,
    ) -> CompactOffsets:
        """Bind the arrays written by `encode_offsets`; the block size follows from their sizes.

        Raises IndexFormatError if the sizes do not describe whole power-of-two blocks.
        """
        buckets, blocks = low.size - 1, high.size - 1
        if blocks <= 0 or buckets % blocks or (buckets // blocks) & (buckets // blocks - 1):
            raise IndexFormatError("offsets arrays do not describe power-of-two blocks")
        block_shift = (buckets // blocks).bit_length() - 1
        return cls(high, low, exception_blocks, exception_offsets, block_shift)

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """offsets[values] as int64 for an int64 array of bucket numbers in 0..2**bits."""
        blocks = values >> self.block_shift
        # np.take is several times faster than fancy indexing for random gathers.
        high = np.take(self.high, blocks).astype(np.int64)
        result = high + ((np.take(self.low, values).astype(np.int64) - high) & 0xFF)
        if self.exception_blocks.size:
            slot = np.searchsorted(self.exception_blocks, blocks)
            slot_clipped = np.minimum(slot, self.exception_blocks.size - 1)
            hot = self.exception_blocks[slot_clipped] == blocks
            if hot.any():
                in_block = values[hot] & ((1 << self.block_shift) - 1)
                result[hot] = self.exception_offsets[slot_clipped[hot], in_block]
        return result


def block_shift_for(entries: int, buckets: int) -> int:
    """Largest block (as a shift) whose average entry count stays near _BLOCK_ENTRY_TARGET."""
    shift = MAX_BLOCK_SHIFT
    while shift > MIN_BLOCK_SHIFT and ((1 << shift) - 1) * entries > _BLOCK_ENTRY_TARGET * buckets:
        shift -= 1
    return shift


def encode_offsets(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Encode per-bucket entry counts (length 2**bits, bits >= MAX_BLOCK_SHIFT) for lookups."""
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    if offsets[-1] >= 2**32:
        raise ValueError("a segment holds fewer than 2**32 entries")
    block = 1 << block_shift_for(int(offsets[-1]), counts.size)
    block_starts = offsets[::block]  # includes the final end offset as its own block
    per_block = offsets[:-1].reshape(-1, block)
    spread = per_block[:, -1] - per_block[:, 0]
    exception_blocks = np.flatnonzero(spread > 0xFF).astype(np.int64)
    return {
        "high": block_starts.astype(np.uint32),
        "low": (offsets & 0xFF).astype(np.uint8),
        "exception_blocks": exception_blocks,
        "exception_offsets": per_block[exception_blocks].astype(np.uint32).reshape(-1, block),
    }
