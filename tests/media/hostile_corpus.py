"""Hostile media the tests generate: decompression bombs, truncated and zero-byte files, wrong
extensions and polyglots, absurd shapes and frame counts, unusual colour modes, EXIF rotation
and videos with broken streams or absurd durations. Nothing is downloaded and nothing is real
imagery: every item is made here with Pillow or PyAV, and each says how it must end.

Each item ends either as a readable per-media error (`error` is a phrase the message holds) or as
a hash (`error` is None). `declared` is the content type the reporter claims, which the decoder
must ignore (it routes by magic bytes).
"""

from __future__ import annotations

import fractions
import io
import struct
import zlib
from dataclasses import dataclass
from functools import cache

import av
from PIL import Image

from tests.factories import make_image
from tests.media.test_video import encode, render_clip


@dataclass(frozen=True)
class Hostile:
    name: str
    data: bytes
    error: str | None  # a phrase of the readable error, or None: it must hash
    declared: str = "image/jpeg"


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _png_claiming(width: int, height: int) -> bytes:
    """A 69-byte PNG whose header claims `width` x `height` RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 100))
        + _png_chunk(b"IEND", b"")
    )


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _gif_frames(count: int) -> bytes:
    # One pixel differs per frame, so Pillow keeps every frame instead of merging them.
    frames = []
    for index in range(count):
        frame = Image.new("L", (2, 2), (index * 7) % 256)
        frame.putpixel((index % 2, 0), (index * 13) % 256)
        frames.append(frame)
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], optimize=False)


def exif_rotated() -> tuple[bytes, Image.Image]:
    """A PNG whose pixels are stored sideways with EXIF orientation 6 ("rotate 90° clockwise to
    view"), and the upright picture a viewer shows."""
    stored = Image.open(io.BytesIO(make_image(31))).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = stored.transpose(Image.Transpose.ROTATE_270)
    return _save(stored, "PNG", exif=exif), upright


def _video_with_absurd_duration() -> bytes:
    """Six frames an hour apart: a few hundred bytes claiming five hours."""
    output = io.BytesIO()
    with av.open(output, "w", format="matroska") as muxer:
        stream = muxer.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = fractions.Fraction(1, 1000)
        stream.codec_context.time_base = fractions.Fraction(1, 1000)
        for index in range(6):
            frame = av.VideoFrame.from_image(Image.new("RGB", (64, 48), (index * 40, 0, 0)))
            frame.pts, frame.time_base = index * 3_600_000, fractions.Fraction(1, 1000)
            for packet in stream.encode(frame):
                muxer.mux(packet)
        for packet in stream.encode():
            muxer.mux(packet)
    return output.getvalue()


@cache
def corpus() -> tuple[Hostile, ...]:
    jpeg = make_image(30)
    png = _save(Image.open(io.BytesIO(jpeg)), "PNG")
    video = encode(render_clip(seed=5, seconds=2, size=(96, 72)))
    broken_video = bytearray(video)
    broken_video[len(video) // 3 : 2 * len(video) // 3] = bytes(len(video) // 3)
    sixteen_bit = Image.linear_gradient("L").resize((128, 96)).convert("I;16")
    return (
        Hostile("zero_bytes", b"", "not an image or a video"),
        Hostile("one_byte", b"\x89", "not an image or a video"),
        Hostile("truncated_jpeg", jpeg[: len(jpeg) // 2], "corrupt or truncated"),
        Hostile("truncated_png", png[: len(png) // 2], "corrupt or truncated"),
        Hostile("png_signature_then_html", b"\x89PNG\r\n\x1a\n<html><script></script>", "not an"),
        Hostile(
            "svg_with_script",
            b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>",
            "not an image or a video",
        ),  # fmt: skip
        Hostile("pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n", "not an image or a video"),
        Hostile("header_claims_100000x100000", _png_claiming(100_000, 100_000), "bomb"),
        # 64 million pixels in about 23 KB: over IMAGE_MAX_PIXELS before a pixel is decoded.
        Hostile(
            "one_bit_bomb_8000x8000", _save(Image.new("1", (8000, 8000), 1), "PNG"), "pixel limit"
        ),  # fmt: skip
        Hostile(
            "gif_10000_frames", _gif_frames(10_000), "frames, over the limit", declared="image/gif"
        ),  # fmt: skip
        Hostile(
            "line_100000x1", _save(Image.linear_gradient("L").resize((100_000, 1)), "PNG"), None
        ),  # fmt: skip
        Hostile(
            "column_1x100000", _save(Image.linear_gradient("L").resize((1, 100_000)), "PNG"), None
        ),  # fmt: skip
        Hostile("cmyk_jpeg", _save(Image.open(io.BytesIO(jpeg)).convert("CMYK"), "JPEG"), None),
        Hostile("grey_16_bit_png", _save(sixteen_bit, "PNG"), None, declared="image/png"),
        Hostile("exif_rotated_png", exif_rotated()[0], None, declared="image/png"),
        Hostile("png_named_jpeg", png, None, declared="image/jpeg"),
        Hostile("jpeg_named_video", jpeg, None, declared="video/mp4"),
        Hostile("jpeg_then_zip_polyglot", jpeg + b"PK\x03\x04" + bytes(200), None),
        Hostile("video_header_only", video[:64], "corrupt", declared="video/mp4"),
        Hostile("video_middle_zeroed", bytes(broken_video), "corrupt", declared="video/mp4"),
        Hostile(
            "video_five_hours_long",
            _video_with_absurd_duration(),
            "longer than",
            declared="video/x-matroska",
        ),  # fmt: skip
    )
