"""Decode one medium once and compute everything triage needs from it: exact hashes, PDQ with
its eight dihedral variants (images) or one PDQ a second (videos), and small RGB copies for the
classifier. Pure functions over bytes in memory: nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pdqhash
from PIL import Image

from moderation.media.fetching import sniff_type
from moderation.media.imaging import (
    DecodedImage,
    ImageDecodeError,
    ImageLimits,
    decode_image,
    exact_hashes,
    pdq_bits_to_hex,
    to_rgb,
)
from moderation.media.video import (
    FrameHash,
    VideoDecodeError,
    VideoInfo,
    VideoLimits,
    hash_video,
    sample_frames,
)

# Longer side of the copy handed to the classifier: NudeNet letterboxes to 320 px anyway, and
# resizing a 4K photo once here is cheaper than inside its preprocessing.
CLASSIFIER_MAX_SIDE = 640
# Pillow modes holding more than 8 bits of grey; their plain RGB conversion saturates.
_DEEP_GREY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_NOT_MEDIA = "the file is not an image or a video in a supported format"


class MediaAnalysisError(Exception):
    """The bytes cannot be analysed. The message is safe to show and store."""


@dataclass(frozen=True)
class ImageAnalysis:
    """`pdq` is the reference hash (what Meta's tools compute for these bytes); `dihedral` are
    the eight hashes of the matching pixels (see `matching_rgb`), upright first; for every mode
    but deep greys `dihedral[0] == pdq`."""

    decoded: DecodedImage
    sha256: str
    md5: str
    pdq: str
    pdq_quality: int
    dihedral: list[str]
    dihedral_quality: int
    classifier_image: Image.Image
    kind: str = "image"


@dataclass(frozen=True)
class VideoAnalysis:
    info: VideoInfo
    sha256: str
    md5: str
    frames: list[FrameHash]
    samples: list[Image.Image] = field(default_factory=list)
    kind: str = "video"

    @property
    def mime(self) -> str:
        return _VIDEO_MIME.get(self.info.container.split(",")[0], "video/octet-stream")

    def info_dict(self) -> dict[str, Any]:
        return {
            "container": self.info.container,
            "codec": self.info.codec,
            "fps": self.info.fps,
            "rotation": self.info.rotation,
            "frames_hashed": len(self.frames),
        }


_VIDEO_MIME = {
    "mov": "video/mp4",
    "matroska": "video/x-matroska",
    "webm": "video/webm",
    "avi": "video/x-msvideo",
    "flv": "video/x-flv",
    "mpegts": "video/mp2t",
    "mpeg": "video/mpeg",
    "ogg": "video/ogg",
    "asf": "video/x-ms-asf",
}


def matching_rgb(image: Image.Image) -> np.ndarray:
    """RGB pixels for media-to-media matching.

    The same as `imaging.to_rgb` except for 16-bit greys: Pillow (and so Meta's reference) turns
    I;16 into nearly white RGB by clipping at 255, which keeps the reference hash but loses the
    picture. Here deep greys are stretched over their actual range, so a 16-bit grey copy of a
    photo hashes like the photo (PDQ is indifferent to a linear brightness change).
    """
    if image.mode not in _DEEP_GREY_MODES:
        return np.asarray(to_rgb(image))
    grey = np.asarray(image, dtype=np.float64)
    low, high = (float(grey.min()), float(grey.max())) if grey.size else (0.0, 0.0)
    scaled = (grey - low) * (255.0 / (high - low)) if high > low else np.zeros_like(grey)
    plane = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(plane[:, :, None], 3, axis=2)


def analyse_image(data: bytes, limits: ImageLimits) -> ImageAnalysis:
    """Decode once; hash (one PDQ transform gives all eight dihedral hashes); downscale once.

    Raises ImageDecodeError.
    """
    decoded = decode_image(data, limits)
    pixels = matching_rgb(decoded.image)
    hashes, quality = pdqhash.compute_dihedral(pixels)
    dihedral = [pdq_bits_to_hex(bits) for bits in hashes]
    pdq, pdq_quality = dihedral[0], int(quality)
    if decoded.image.mode in _DEEP_GREY_MODES:
        # Keep the stored hash equal to the reference tools' for the same bytes.
        reference, reference_quality = pdqhash.compute(np.asarray(to_rgb(decoded.image)))
        pdq, pdq_quality = pdq_bits_to_hex(reference), int(reference_quality)
    sha256, md5 = exact_hashes(data)
    small = Image.fromarray(pixels)
    if max(small.size) > CLASSIFIER_MAX_SIDE:
        small.thumbnail((CLASSIFIER_MAX_SIDE, CLASSIFIER_MAX_SIDE), Image.Resampling.BILINEAR)
    return ImageAnalysis(decoded, sha256, md5, pdq, pdq_quality, dihedral, int(quality), small)


def analyse_video(data: bytes, limits: VideoLimits, samples: int) -> VideoAnalysis:
    """Frame hashes (one a second) and `samples` evenly spaced frames for the classifier.

    Raises VideoDecodeError. Decodes twice (hashing and sampling walk the stream differently);
    both passes are fenced by the same limits.
    """
    info, frames = hash_video(data, limits)
    picked = sample_frames(data, samples, limits, CLASSIFIER_MAX_SIDE) if samples else []
    sha256, md5 = exact_hashes(data)
    return VideoAnalysis(info, sha256, md5, frames, picked)


def analyse(
    data: bytes, image_limits: ImageLimits, video_limits: VideoLimits, video_samples: int
) -> ImageAnalysis | VideoAnalysis:
    """Route by magic bytes (never by name or declared type) and analyse.

    Raises MediaAnalysisError with the decoder's readable reason.
    """
    kind = sniff_type(data)
    try:
        if kind.startswith("image/"):
            return analyse_image(data, image_limits)
        if kind.startswith("video/"):
            return analyse_video(data, video_limits, video_samples)
    except ImageDecodeError as exc:
        raise MediaAnalysisError(str(exc)) from exc
    except VideoDecodeError as exc:
        raise MediaAnalysisError(exc.message) from exc
    # Containers the sniffer does not name (AVI, FLV, Ogg, MPEG) are tried as video.
    try:
        return analyse_video(data, video_limits, video_samples)
    except VideoDecodeError as exc:
        if exc.code == "not_video":
            raise MediaAnalysisError(_NOT_MEDIA) from exc
        raise MediaAnalysisError(exc.message) from exc
