"""Fenced video decoding with PyAV: from memory only, video stream only, under byte, duration,
frame, pixel and wall-clock limits, with every FFmpeg failure turned into a VideoDecodeError.

Hostile uploads attack the decoder, so the fence is layered: a demuxer allow-list (no image
pipes, playlists or concat files that open other URLs), a codec allow-list, nested opens
refused, pixel limits checked before decoding and enforced inside FFmpeg, and a deadline checked
on every read the demuxer makes as well as on every frame.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from fractions import Fraction

import av
import av.container
import av.error
import av.stream
import av.video.frame
import av.video.stream
from PIL import Image

from moderation.media.video.model import VideoDecodeError, VideoInfo, VideoLimits

# FFmpeg demuxer names; FFmpeg matches any comma-separated alias of a demuxer against this list.
ALLOWED_DEMUXERS = ("mov", "matroska", "webm", "avi", "flv", "mpegts", "mpeg", "ogg", "asf")
# Canonical codec names of the decoders we expose to uploads: the common camera, phone and web
# codecs. FFmpeg's long tail of rare decoders is where most of its security bugs have been.
ALLOWED_CODECS = frozenset(
    {
        "h264",
        "hevc",
        "vp8",
        "vp9",
        "av1",
        "mpeg4",
        "mpeg1video",
        "mpeg2video",
        "h263",
        "msmpeg4v2",
        "msmpeg4v3",
        "wmv1",
        "wmv2",
        "wmv3",
        "vc1",
        "theora",
        "flv1",
        "mjpeg",
        "prores",
    }
)
# Leading bytes of containers we accept, so a file that fails to open can be called "corrupt"
# (a damaged video) rather than "not_video" (something else entirely).
_VIDEO_SIGNATURES = (b"\x1a\x45\xdf\xa3", b"RIFF", b"FLV", b"OggS", b"\x00\x00\x01\xba")
_MP4_BOX_TYPES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")
# Longest believable pause between two frames; variable-rate screen recordings pause for a few
# seconds. A longer jump is treated as a clock discontinuity, not as time passing, so forged
# timestamps cannot make the sampler skip most of a video.
_MAX_GAP_S = 5.0
# Exceptions PyAV raises for bad input besides av.error.FFmpegError (which subclasses some of
# these): truncated reads, broken metadata, impossible sizes.
_AV_FAILURES = (
    av.error.FFmpegError,
    OSError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    OverflowError,
    UnicodeError,
    MemoryError,
)


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame: its 0-based decode index, its presentation time in seconds since the
    first decoded frame, the PyAV frame (still in its native pixel format, not yet rotated) and
    the rotation to apply for display (degrees counter-clockwise, a multiple of 90)."""

    index: int
    timestamp: float
    frame: av.video.frame.VideoFrame
    rotation: int = 0


class _GuardedReader:
    """A read-only file over in-memory bytes that enforces the deadline on every read and seek,
    so a demuxer spinning over crafted data is stopped between its reads."""

    def __init__(self, data: bytes, deadline: float):
        self._buffer = io.BytesIO(data)
        self._deadline = deadline

    def _check(self) -> None:
        if time.monotonic() > self._deadline:
            raise VideoDecodeError("deadline", "decoding the video took too long")

    def read(self, size: int = -1) -> bytes:
        self._check()
        return self._buffer.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check()
        return self._buffer.seek(offset, whence)

    def tell(self) -> int:
        return self._buffer.tell()


def _refuse_nested_open(url: str, flags: int, options: dict[str, str]) -> None:
    """io_open hook: a video we accept is one self-contained file; never open anything else."""
    raise PermissionError("nested open refused")


def _looks_like_video(data: bytes) -> bool:
    return data.startswith(_VIDEO_SIGNATURES) or data[4:8] in _MP4_BOX_TYPES


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


class VideoReader:
    """An open video stream inside `open_video`; `info` is known, `frames()` decodes."""

    def __init__(
        self,
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
        info: VideoInfo,
        limits: VideoLimits,
        deadline: float,
    ):
        self._container = container
        self._stream = stream
        self.info = info
        self._limits = limits
        self._deadline = deadline

    def _learn_rotation(self, frame: av.video.frame.VideoFrame) -> None:
        """Phones store portrait video as landscape pixels plus a display matrix; honour it so
        hashes and previews match the upright copies people re-share."""
        try:
            angle = float(frame.rotation)
        except (ValueError, TypeError, OverflowError):
            angle = 0.0
        if not math.isfinite(angle):
            # A degenerate display matrix: show the pixels as stored rather than refuse.
            angle = 0.0
        rotation = (round(angle / 90) % 4) * 90
        if rotation:
            width, height = self.info.width, self.info.height
            if rotation != 180:
                width, height = height, width
            self.info = replace(self.info, width=width, height=height, rotation=rotation)

    def _coded_pixels(self) -> int:
        context = self._stream.codec_context
        return int(context.width) * int(context.height)

    def frames(self) -> Iterator[DecodedFrame]:
        """Decode every frame in order, enforcing the frame, pixel, duration and time limits.

        Raises VideoDecodeError; a stream that yields no frame at all is "corrupt".
        """
        limits = self._limits
        # Step used where timestamps are missing or jump: the nominal rate, kept within 1-60 fps
        # so a lying frame rate cannot stretch or squeeze the timeline much.
        step = 1.0 / min(max(self.info.fps or 25.0, 1.0), 60.0)
        origin: float | None = None
        offset = 0.0
        previous: float | None = None
        index = -1
        try:
            for frame in self._container.decode(self._stream):
                index += 1
                if index >= limits.max_frames_decoded:
                    raise VideoDecodeError(
                        "too_many_frames",
                        f"the video has more than {limits.max_frames_decoded} frames",
                    )
                if time.monotonic() > self._deadline:
                    raise VideoDecodeError("deadline", "decoding the video took too long")
                if frame.width * frame.height > limits.max_pixels:
                    raise VideoDecodeError("too_large", "a video frame is over the pixel limit")
                if previous is None:
                    self._learn_rotation(frame)
                raw = frame.time
                if raw is None:
                    timestamp = 0.0 if previous is None else previous + step
                else:
                    if origin is None:
                        origin = raw
                    timestamp = raw - origin + offset
                    if previous is not None and not 0 < timestamp - previous <= _MAX_GAP_S:
                        # A discontinuity (joined streams, a wrapped or forged clock): continue
                        # the timeline one frame on, so frames after it are still sampled.
                        offset += previous + step - timestamp
                        timestamp = previous + step
                previous = timestamp
                if timestamp > limits.max_duration_s:
                    raise VideoDecodeError(
                        "too_long", f"the video is longer than {limits.max_duration_s:g} seconds"
                    )
                yield DecodedFrame(index, timestamp, frame, self.info.rotation)
        except VideoDecodeError:
            raise
        except _AV_FAILURES as exc:
            if self._coded_pixels() > limits.max_pixels:
                # FFmpeg's own max_pixels check refused a frame whose size changed mid-stream.
                raise VideoDecodeError(
                    "too_large", "a video frame is over the pixel limit"
                ) from exc
            raise VideoDecodeError("corrupt", "the video data is corrupt or truncated") from exc
        if index < 0:
            raise VideoDecodeError("corrupt", "the video has no decodable frames")


@contextmanager
def open_video(data: bytes, limits: VideoLimits = VideoLimits()) -> Iterator[VideoReader]:
    """Open `data` (bytes in memory; nothing is written to disk) and yield a VideoReader for its
    first video stream. Checks size, container, codec, declared dimensions and declared duration
    before any frame is decoded. Raises VideoDecodeError only.
    """
    if not data:
        raise VideoDecodeError("not_video", "the file is empty")
    if len(data) > limits.max_bytes:
        raise VideoDecodeError("too_large", f"the file is over the {limits.max_bytes} byte limit")
    deadline = time.monotonic() + limits.deadline_s
    try:
        container = av.open(
            _GuardedReader(data, deadline),
            mode="r",
            container_options={"format_whitelist": ",".join(ALLOWED_DEMUXERS)},
            metadata_errors="replace",
            io_open=_refuse_nested_open,
        )
    except VideoDecodeError:
        raise
    except _AV_FAILURES as exc:
        if _looks_like_video(data):
            raise VideoDecodeError("corrupt", "the video container is corrupt") from exc
        raise VideoDecodeError("not_video", "the file is not a supported video") from exc
    try:
        stream, info = _select_stream(container, limits)
        yield VideoReader(container, stream, info, limits, deadline)
    finally:
        container.close()


def _select_stream(
    container: av.container.InputContainer, limits: VideoLimits
) -> tuple[av.video.stream.VideoStream, VideoInfo]:
    """The first video stream and its declared facts, refused early if they break a limit."""
    try:
        if not container.streams.video:
            raise VideoDecodeError("not_video", "the file has no video stream")
        stream = container.streams.video[0]
        for other in container.streams:
            if other.index != stream.index:
                # Audio, subtitles and data are never decoded; have the demuxer drop them early.
                other.discard = av.stream.Discard.all
        context = stream.codec_context
        codec = context.codec.canonical_name if context is not None else ""
        if context is None or codec not in ALLOWED_CODECS:
            raise VideoDecodeError("unsupported_codec", "the video codec is not supported")
        width, height = int(context.width), int(context.height)
        if width * height > limits.max_pixels:
            raise VideoDecodeError("too_large", f"the video is {width}x{height}, over the limit")
        # FFmpeg also refuses any frame over the limit before allocating it, which catches
        # streams that declare a small size and switch to a huge one mid-stream.
        context.options = {"max_pixels": str(limits.max_pixels)}
        context.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        duration = _seconds(container.duration, Fraction(1, av.time_base))
        if duration is None:
            duration = _seconds(stream.duration, stream.time_base)
        info = VideoInfo(
            container=container.format.name,
            codec=codec,
            width=width,
            height=height,
            duration=duration,
            fps=float(rate) if rate else None,
        )
    except VideoDecodeError:
        raise
    except _AV_FAILURES as exc:
        raise VideoDecodeError("corrupt", "the video container is corrupt") from exc
    if duration is not None and duration > limits.max_duration_s:
        raise VideoDecodeError(
            "too_long", f"the video is longer than {limits.max_duration_s:g} seconds"
        )
    return stream, info


_TRANSPOSE_FOR_ROTATION = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


def frame_to_image(decoded: DecodedFrame, max_side: int) -> Image.Image:
    """Upright RGB image of a decoded frame, scaled by FFmpeg so its longer side is at most
    `max_side`.

    Only frames we keep are converted: the colour conversion costs more than decoding.
    Raises VideoDecodeError("corrupt") if FFmpeg cannot convert the pixel format.
    """
    frame = decoded.frame
    width, height = frame.width, frame.height
    scale = min(1.0, max_side / max(width, height, 1))
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    try:
        image = frame.to_image(width=target[0], height=target[1])
    except _AV_FAILURES as exc:
        raise VideoDecodeError("corrupt", "a video frame could not be converted") from exc
    transpose = _TRANSPOSE_FOR_ROTATION.get(decoded.rotation)
    return image.transpose(transpose) if transpose is not None else image


def probe_video(data: bytes, limits: VideoLimits = VideoLimits()) -> VideoInfo:
    """Container facts of `data`, after proving the first frame decodes. Raises VideoDecodeError."""
    with open_video(data, limits) as reader:
        for _ in reader.frames():
            break
        return reader.info
