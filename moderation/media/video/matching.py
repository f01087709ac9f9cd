"""Video-to-video matching in the vPDQ way: the share of one video's distinct frame hashes that
have a near match in the other, computed both ways."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from moderation.media.video.hashing import FrameHash

# PDQ's recommended frame distance (inclusive), as for still images.
DEFAULT_PDQ_THRESHOLD = 31
# vPDQ's quality cut-off: below it a frame is too flat (fades, black, title cards) to say much.
DEFAULT_MIN_QUALITY = 50
# Both shares must reach this. In our tests, copies made from the original (grey, sepia, a
# corner logo, re-encodes at other sizes, rates and codecs) share 100% of frames, each within
# 20 bits; unrelated clips share none (nearest frame ~120 bits away). 0.7 leaves room for real
# copies whose 1 fps samples fall at other instants (a different start, cuts, transitions) or
# lose their first and last seconds, while a video that only shares a stretch with another (a
# clip of a longer video, a common intro) stays below it and is reported by its shares instead.
DEFAULT_MIN_SHARE = 0.7
# Rows of the query compared at once: bounds the distance matrix to a few megabytes.
_BLOCK_ROWS = 256


@dataclass(frozen=True)
class VideoMatch:
    """`query_match_share`: share (0-1) of the query's distinct usable frame hashes with a match
    in the target; `target_match_share` the same the other way; `matched` when both reach the
    minimum share."""

    query_match_share: float
    target_match_share: float
    matched: bool


def _usable_hashes(frames: Sequence[FrameHash], min_quality: int) -> np.ndarray:
    """Distinct PDQ hashes of frames at or above `min_quality`, as an (n, 4) uint64 array.

    Distinct hashes, as vPDQ counts them, so a long static shot does not outvote the rest."""
    unique = sorted({frame.pdq for frame in frames if frame.quality >= min_quality})
    if not unique:
        return np.zeros((0, 4), dtype=np.uint64)
    packed = np.frombuffer(bytes.fromhex("".join(unique)), dtype=">u8")
    return packed.astype(np.uint64).reshape(len(unique), 4)


def match_videos(
    query: Sequence[FrameHash],
    target: Sequence[FrameHash],
    pdq_threshold: int = DEFAULT_PDQ_THRESHOLD,
    min_share: float = DEFAULT_MIN_SHARE,
    min_quality: int = DEFAULT_MIN_QUALITY,
) -> VideoMatch:
    """Compare two videos' frame hashes both ways.

    A frame matches when some frame of the other video is within `pdq_threshold` bits
    (inclusive). If either side has no usable frame, both shares are 0 and nothing matches:
    a video of flat frames cannot be identified by PDQ.
    """
    query_hashes = _usable_hashes(query, min_quality)
    target_hashes = _usable_hashes(target, min_quality)
    if len(query_hashes) == 0 or len(target_hashes) == 0:
        return VideoMatch(0.0, 0.0, False)
    query_found = np.zeros(len(query_hashes), dtype=bool)
    target_found = np.zeros(len(target_hashes), dtype=bool)
    for start in range(0, len(query_hashes), _BLOCK_ROWS):
        block = query_hashes[start : start + _BLOCK_ROWS]
        distances = np.bitwise_count(block[:, None, :] ^ target_hashes[None, :, :]).sum(axis=2)
        close = distances <= pdq_threshold
        query_found[start : start + len(block)] = close.any(axis=1)
        target_found |= close.any(axis=0)
    query_share = float(query_found.mean())
    target_share = float(target_found.mean())
    return VideoMatch(
        query_match_share=query_share,
        target_match_share=target_share,
        matched=query_share >= min_share and target_share >= min_share,
    )
