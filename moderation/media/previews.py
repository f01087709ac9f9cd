"""Server-side previews of reported media: blurred and greyscale by default, detection boxes drawn
on top, a region-only reveal, and the revealed image re-encoded from pixels (no EXIF, no other
metadata). Videos become a blurred contact sheet. Original bytes never leave through here.

Every function reads the original through the encrypted media store, which re-checks its SHA-256.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image, ImageDraw, ImageFilter

from models import Detection, Media
from moderation.core.errors import DomainError
from moderation.media.imaging import ImageDecodeError, ImageLimits, decode_image, to_rgb
from moderation.media.store import MediaStore, MediaStoreError
from moderation.media.video import VideoDecodeError, contact_sheet

PREVIEW_MAX_SIDE = 720
REVEAL_MAX_SIDE = 1600
_BOX_COLOUR = (255, 196, 0)
_JPEG_QUALITY = 82


class PreviewUnavailable(DomainError):
    """The media cannot be shown (missing, failed its integrity check, or undecodable)."""

    status = 404
    code = "preview_unavailable"


class LabelledBox(Protocol):
    """A detector box with its label (moderation/review/item.DetectionView is one)."""

    label: str
    detection: Detection


@dataclass(frozen=True)
class PreviewOptions:
    """A moderator's preview preferences. `blur` False asks for a lighter blur, never none:
    seeing the medium unblurred is a reveal (audited, counted toward the wellness caps)."""

    blur: bool = True
    greyscale: bool = True


@dataclass(frozen=True)
class Region:
    """A rectangle in fractions of the image (0-1), so it survives any preview scale."""

    x: float
    y: float
    w: float
    h: float

    @classmethod
    def parse(cls, values: dict[str, Any] | None) -> Region | None:
        """A region from form or JSON values; None when absent. Raises DomainError (422) when
        present but malformed, empty or outside the image."""
        if not values or all(values.get(k) in (None, "") for k in ("x", "y", "w", "h")):
            return None
        try:
            x, y, w, h = (float(values[k]) for k in ("x", "y", "w", "h"))
        except (KeyError, TypeError, ValueError) as exc:
            raise DomainError("the region is malformed", code="invalid_region", status=422) from exc
        if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1):
            raise DomainError("the region is outside the image", code="invalid_region", status=422)
        return cls(x, y, min(w, 1 - x), min(h, 1 - y))

    def to_dict(self) -> dict[str, float]:
        return {
            "x": round(self.x, 4),
            "y": round(self.y, 4),
            "w": round(self.w, 4),
            "h": round(self.h, 4),
        }

    def pixels(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        width, height = size
        left, top = int(self.x * width), int(self.y * height)
        right = max(left + 1, int((self.x + self.w) * width))
        bottom = max(top + 1, int((self.y + self.h) * height))
        return left, top, min(right, width), min(bottom, height)


def is_video(media: Media) -> bool:
    return str(getattr(media, "kind", "") or "") == "video" or bool(
        media.mime and media.mime.startswith("video/")
    )


def _original(store: MediaStore, media: Media) -> bytes:
    if media.storage_key is None:
        raise PreviewUnavailable("this media was never stored")
    try:
        return store.get(media.storage_key)
    except MediaStoreError as exc:
        raise PreviewUnavailable("this media is missing or failed its integrity check") from exc


def _decode(data: bytes, limits: ImageLimits) -> Image.Image:
    try:
        return to_rgb(decode_image(data, limits).image)
    except ImageDecodeError as exc:
        raise PreviewUnavailable("this media cannot be decoded") from exc


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    if max(image.size) <= max_side:
        return image.copy()
    scaled = image.copy()
    scaled.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return scaled


def _blur_radius(image: Image.Image, strong: bool = True) -> float:
    # Strong: hides identity and anatomy at any preview size, still showing layout. Light (a
    # moderator's preference): shapes and scene are clearer, faces and text still unreadable.
    # Never zero: an unblurred look is a reveal, which is audited and counted.
    if strong:
        return max(8.0, max(image.size) / 28)
    return max(4.0, max(image.size) / 60)


def _obscure(image: Image.Image, options: PreviewOptions) -> Image.Image:
    out = image
    if options.greyscale:
        out = out.convert("L").convert("RGB")
    return out.filter(ImageFilter.GaussianBlur(_blur_radius(out, strong=options.blur)))


def _draw_boxes(image: Image.Image, boxes: Sequence[LabelledBox]) -> None:
    """Outline detection boxes ((x, y, w, h) in the decoded image's pixels) on the scaled
    preview."""
    draw = ImageDraw.Draw(image)
    for labelled in boxes:
        (x, y, w, h), (width, height) = labelled.detection.box, labelled.detection.image_size
        scale_x, scale_y = image.width / max(width, 1), image.height / max(height, 1)
        rect = (x * scale_x, y * scale_y, (x + w) * scale_x, (y + h) * scale_y)
        draw.rectangle(rect, outline=_BOX_COLOUR, width=3)
        label = labelled.label[:40]
        if label:
            draw.text((rect[0] + 4, rect[1] + 3), label, fill=_BOX_COLOUR)


def _jpeg(image: Image.Image) -> bytes:
    """Encode from pixels only: a fresh image carries no EXIF, ICC or comments."""
    clean = Image.new("RGB", image.size)
    clean.paste(image.convert("RGB"))
    output = io.BytesIO()
    clean.save(output, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    return output.getvalue()


def blurred_preview(
    store: MediaStore,
    media: Media,
    options: PreviewOptions,
    boxes: Sequence[LabelledBox] = (),
    limits: ImageLimits = ImageLimits(),
) -> bytes:
    """JPEG of the obscured preview (blurred/greyscale per `options`) with detection boxes drawn,
    or a blurred, muted contact sheet for a video. Raises PreviewUnavailable."""
    data = _original(store, media)
    if is_video(media):
        return _video_sheet(data, options)
    image = _decode(data, limits)
    preview = _obscure(_fit(image, PREVIEW_MAX_SIDE), options)
    _draw_boxes(preview, boxes)
    return _jpeg(preview)


def revealed_image(
    store: MediaStore,
    media: Media,
    region: Region | None,
    options: PreviewOptions,
    limits: ImageLimits = ImageLimits(),
) -> bytes:
    """JPEG of the unblurred media, re-encoded without metadata; with `region`, only that
    rectangle is clear and the rest stays obscured. A video gives its unblurred contact sheet
    (never the stream). Call only for an audited reveal. Raises PreviewUnavailable."""
    data = _original(store, media)
    if is_video(media):
        return _video_sheet(data, PreviewOptions(greyscale=False), revealed=True)
    image = _decode(data, limits)
    if region is None:
        return _jpeg(_fit(image, REVEAL_MAX_SIDE))
    scaled = _fit(image, PREVIEW_MAX_SIDE)
    base = _obscure(scaled, PreviewOptions(blur=True, greyscale=options.greyscale))
    box = region.pixels(scaled.size)
    base.paste(scaled.crop(box), box[:2])
    ImageDraw.Draw(base).rectangle(box, outline=_BOX_COLOUR, width=2)
    return _jpeg(base)


def _video_sheet(data: bytes, options: PreviewOptions, revealed: bool = False) -> bytes:
    """A contact sheet of the video: blurred (lighter if the moderator prefers, never not at
    all) unless this is a reveal."""
    radius = 0 if revealed else (10 if options.blur else 5)
    try:
        return contact_sheet(data, blur_radius=radius, greyscale=options.greyscale)
    except VideoDecodeError as exc:
        raise PreviewUnavailable("this video cannot be decoded") from exc
