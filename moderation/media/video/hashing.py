"""vPDQ-style video hashing: the PDQ hash and quality of one frame per second, chosen by
presentation time, as (frame, timestamp, pdq, quality) records stored per media."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pdqhash

from moderation.media.imaging import pdq_bits_to_hex
from moderation.media.video.decoding import frame_to_image, open_video
from moderation.media.video.model import VideoDecodeError, VideoInfo, VideoLimits

# Frames are scaled so the longer side is at most this before hashing. 720p and smaller are
# hashed at full size; bigger frames lose only a few PDQ bits (2 of 256 on Meta's bridge photo at
# 1024 px) while a 4K frame would cost ten times as much to hash.
HASH_MAX_SIDE = 1280
# Tolerance when comparing a frame's time with the next sampling instant, so a 24 fps frame at
# 0.99999 s still counts as "the frame at 1 s".
_TIME_EPSILON = 1e-3
_PDQ_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class FrameHash:
    """PDQ of one kept frame. `frame` is the 0-based index of the decoded frame in the stream,
    `timestamp` its presentation time in seconds from the first frame, `pdq` 64 lowercase hex
    digits in reference byte order, `quality` PDQ's 0-100 featurefulness."""

    frame: int
    timestamp: float
    pdq: str
    quality: int

    def __post_init__(self) -> None:
        if not _PDQ_HEX.fullmatch(self.pdq):
            raise ValueError("pdq must be 64 lowercase hex digits")
        if not 0 <= self.quality <= 100:
            raise ValueError("quality must be within 0-100")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, in vPDQ's field order."""
        return {
            "frame": self.frame,
            "quality": self.quality,
            "pdq": self.pdq,
            "timestamp": round(self.timestamp, 3),
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> FrameHash:
        """Inverse of to_dict; raises ValueError, KeyError or TypeError on malformed input."""
        return cls(
            frame=int(value["frame"]),
            timestamp=float(value["timestamp"]),
            pdq=str(value["pdq"]),
            quality=int(value["quality"]),
        )


def hash_video(
    data: bytes, limits: VideoLimits = VideoLimits(), fps: float = 1.0
) -> tuple[VideoInfo, list[FrameHash]]:
    """Decode `data` in memory and PDQ-hash `fps` frames per second of presentation time.

    The first frame is always kept; after that, the first frame at or past each multiple of
    1/fps seconds. Only kept frames are converted to RGB. Low-quality frames are kept too:
    matching filters them, storage keeps the full record. Raises VideoDecodeError (code
    "too_many_frames" when more than limits.max_kept_frames would be kept).
    """
    if not 0 < fps <= 30:
        raise ValueError("fps must be within (0, 30]")
    interval = 1.0 / fps
    hashes: list[FrameHash] = []
    with open_video(data, limits) as reader:
        next_time = 0.0
        for decoded in reader.frames():
            if decoded.timestamp + _TIME_EPSILON < next_time:
                continue
            if len(hashes) >= limits.max_kept_frames:
                raise VideoDecodeError(
                    "too_many_frames",
                    f"the video would keep more than {limits.max_kept_frames} hashed frames",
                )
            image = frame_to_image(decoded, HASH_MAX_SIDE)
            bits, quality = pdqhash.compute(np.asarray(image))
            hashes.append(
                FrameHash(decoded.index, decoded.timestamp, pdq_bits_to_hex(bits), int(quality))
            )
            # Schedule from the kept frame's own slot, so a gap in timestamps yields one frame
            # rather than a burst catching up on the missed seconds.
            slot = int((decoded.timestamp + _TIME_EPSILON) // interval)
            next_time = (slot + 1) * interval
        return reader.info, hashes
