"""Multi-index hashing arithmetic: the 256 bits are cut into CHUNK_COUNT disjoint substrings.

Exactness rests on the generalised pigeonhole principle: if d(x, q) <= r and every chunk i gets a
radius t_i with sum(t_i + 1) >= r + 1, then some chunk i has d(x_i, q_i) <= t_i. So probing, in
each chunk's sorted table, every value within t_i of the query's chunk finds every x within r.
Chunks need not cover all 256 bits: uncovered bits only make distances larger.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np

# Eleven tables of up to 23 bits is the measured sweet spot for exact search at r = 31 over 10
# million hashes: fewer, longer chunks need thousands of probes per chunk; more, shorter chunks
# return tens of thousands of random candidates per hash (see bench/index.py).
CHUNK_COUNT = 11
MAX_CHUNK_BITS = 23
MIN_CHUNK_BITS = 10
MAX_SUPPORTED_DISTANCE = 31


def chunk_bits_for(count: int) -> int:
    """Bits per chunk for a segment of `count` hashes: about log2(count), within 10..23.

    Buckets then hold about one entry each, and the offsets tables stay near one byte per hash.
    """
    return max(MIN_CHUNK_BITS, min(MAX_CHUNK_BITS, count.bit_length() - 1))


def chunk_values(words: np.ndarray, chunk: int, bits: int) -> np.ndarray:
    """The value (uint32) of chunk `chunk` for each row of an (n, 4) uint64 word matrix.

    Chunk i is the bits [i*bits, (i+1)*bits) of the row, counting bit k as bit (63 - k % 64) of
    word k // 64. A chunk may straddle two words.
    """
    start = chunk * bits
    word, offset = divmod(start, 64)
    mask = np.uint64((1 << bits) - 1)
    if offset + bits <= 64:
        shifted = words[:, word] >> np.uint64(64 - offset - bits)
        return (shifted & mask).astype(np.uint32)
    spill = offset + bits - 64
    high = (words[:, word] & np.uint64((1 << (64 - offset)) - 1)) << np.uint64(spill)
    low = words[:, word + 1] >> np.uint64(64 - spill)
    return (high | low).astype(np.uint32)


def radius_plan(max_distance: int, chunk_count: int = CHUNK_COUNT) -> tuple[int, int]:
    """(base, raised): every chunk is probed to radius `base`, `raised` of them to base + 1.

    Then sum(t_i + 1) == max_distance + 1 exactly, the least work that keeps the guarantee.
    A radius of -1 means the chunk is not probed at all. Which chunks get the raised radius is
    chosen per query by the caller (the cheap ones), which is how hot buckets are avoided.
    """
    base = (max_distance + 1) // chunk_count - 1
    raised = (max_distance + 1) % chunk_count
    return base, raised


@lru_cache(maxsize=64)
def probe_masks(bits: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """XOR masks of every value within `radius` of a `bits`-bit chunk, and each mask's weight.

    Masks are ordered by weight (0 first), so the ring of weight `radius` is a suffix.
    """
    masks: list[int] = [0]
    weights: list[int] = [0]
    for weight in range(1, radius + 1):
        for positions in combinations(range(bits), weight):
            masks.append(sum(1 << p for p in positions))
            weights.append(weight)
    mask_array = np.array(masks, dtype=np.uint32)
    weight_array = np.array(weights, dtype=np.int8)
    mask_array.setflags(write=False)
    weight_array.setflags(write=False)
    return mask_array, weight_array
