"""Evenly spaced frames of a video: a few for the nudity classifier, and a blurred contact sheet
(a JPEG grid) for the review UI, so moderators see a video's content without watching it."""

from __future__ import annotations

import io

from PIL import Image, ImageFilter

from moderation.media.video.decoding import DecodedFrame, frame_to_image, open_video
from moderation.media.video.model import VideoLimits

# Longest side of frames handed to classifiers; NudeNet works at 320-640 px.
SAMPLE_MAX_SIDE = 1024
_TILE_BACKGROUND = (24, 24, 24)
_JPEG_QUALITY = 80


class _EvenSampler:
    """Keeps an evenly spaced subset of a stream of unknown length in bounded memory.

    Frame i is kept when i is a multiple of the stride; when 2*count frames are held, every
    other one is dropped and the stride doubles. Only kept frames are converted to images.
    """

    def __init__(self, count: int, max_side: int):
        self._count = count
        self._max_side = max_side
        self._stride = 1
        self._held: list[tuple[int, Image.Image]] = []

    def offer(self, decoded: DecodedFrame) -> None:
        if decoded.index % self._stride:
            return
        self._held.append((decoded.index, frame_to_image(decoded, self._max_side)))
        if len(self._held) >= 2 * self._count:
            self._stride *= 2
            self._held = [(i, image) for i, image in self._held if i % self._stride == 0]

    def pick(self) -> list[Image.Image]:
        """`count` held images spread over the held range (all of them if fewer are held)."""
        held = self._held
        if len(held) <= self._count:
            return [image for _, image in held]
        # Centre of each of `count` equal slices, so the first (often black) frame is avoided.
        positions = [int((slot + 0.5) * len(held) / self._count) for slot in range(self._count)]
        return [held[position][1] for position in positions]


def sample_frames(
    data: bytes,
    count: int = 8,
    limits: VideoLimits = VideoLimits(),
    max_side: int = SAMPLE_MAX_SIDE,
) -> list[Image.Image]:
    """Up to `count` RGB frames spread evenly over the whole video, longer side <= `max_side`.

    For the caller to classify; fewer are returned only for videos with fewer frames.
    Raises VideoDecodeError.
    """
    if not 1 <= count <= 64:
        raise ValueError("count must be within 1-64")
    sampler = _EvenSampler(count, max_side)
    with open_video(data, limits) as reader:
        for decoded in reader.frames():
            sampler.offer(decoded)
    return sampler.pick()


def contact_sheet(
    data: bytes,
    columns: int = 4,
    rows: int = 3,
    tile_width: int = 240,
    blur_radius: float = 12,
    greyscale: bool = True,
    limits: VideoLimits = VideoLimits(),
) -> bytes:
    """JPEG bytes of a `columns` x `rows` grid of evenly spaced frames, each blurred (radius in
    tile pixels; 0 for none) and greyscale by default. The sheet is columns*tile_width wide and
    rows*tile_height high, where tile_height follows the video's aspect ratio (clamped to
    1/4-2x the width). Missing tiles for very short videos stay dark. The JPEG carries no EXIF
    or other metadata. Raises VideoDecodeError, or ValueError for out-of-range arguments.
    """
    if not (1 <= columns <= 10 and 1 <= rows <= 10):
        raise ValueError("columns and rows must be within 1-10")
    if not 16 <= tile_width <= 1024:
        raise ValueError("tile_width must be within 16-1024")
    if blur_radius < 0:
        raise ValueError("blur_radius must not be negative")
    sampler = _EvenSampler(columns * rows, max(tile_width * 2, 64))
    with open_video(data, limits) as reader:
        for decoded in reader.frames():
            sampler.offer(decoded)
        aspect = reader.info.height / max(reader.info.width, 1)
    tile_height = min(max(round(tile_width * aspect), tile_width // 4), tile_width * 2)
    mode = "L" if greyscale else "RGB"
    background = _TILE_BACKGROUND[0] if greyscale else _TILE_BACKGROUND
    sheet = Image.new(mode, (columns * tile_width, rows * tile_height), background)
    for position, frame in enumerate(sampler.pick()):
        tile = frame.convert(mode).resize((tile_width, tile_height), Image.Resampling.BILINEAR)
        if blur_radius > 0:
            # Blur each tile on its own so frames do not bleed into their neighbours.
            tile = tile.filter(ImageFilter.GaussianBlur(blur_radius))
        column, row = position % columns, position // columns
        sheet.paste(tile, (column * tile_width, row * tile_height))
    output = io.BytesIO()
    sheet.save(output, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    return output.getvalue()
