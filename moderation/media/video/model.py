"""Value types of video handling: the limits a video must keep, what its container declares,
and the one error every decoding failure becomes."""

from __future__ import annotations

from dataclasses import dataclass


class VideoDecodeError(Exception):
    """The bytes are not a video we will decode, or break a limit.

    `code` is one of: not_video, too_large, too_long, too_many_frames, deadline, corrupt,
    unsupported_codec. The message is safe to show and store: it never contains file names,
    URLs or media bytes.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class VideoLimits:
    """Bounds on the work one untrusted video may cause. The deadline is wall-clock seconds."""

    max_bytes: int = 200 * 1024 * 1024
    max_duration_s: float = 1800.0
    max_frames_decoded: int = 20_000
    max_pixels: int = 3840 * 2160
    deadline_s: float = 120.0
    max_kept_frames: int = 1800


@dataclass(frozen=True)
class VideoInfo:
    """What the container declares. `container` is FFmpeg's demuxer name (e.g. "matroska,webm"),
    `codec` the canonical codec name (e.g. "h264"); duration and fps may be unknown. Width and
    height are as displayed: once a frame is decoded, a phone video's rotation (`rotation`,
    degrees counter-clockwise, a multiple of 90) is applied to them."""

    container: str
    codec: str
    width: int
    height: int
    duration: float | None
    fps: float | None
    rotation: int = 0
