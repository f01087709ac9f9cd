"""Safe image decoding and the hashes triage stores: SHA-256, MD5 and PDQ with quality.

Decoding is where hostile files attack us, so it is fenced: a format allow-list, a pixel limit
checked before any pixel is decoded, a frame limit for animations, and Pillow's decompression-bomb
check turned into an error. Every failure is an ImageDecodeError with a readable reason.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
_MIME = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}


class ImageDecodeError(Exception):
    """The bytes are not an image we will decode. The message is safe to show and store."""


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int = 50_000_000
    max_frames: int = 200


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # first frame, orientation applied
    format: str
    mime: str
    width: int
    height: int
    frames: int


@dataclass(frozen=True)
class ImageHashes:
    sha256: str
    md5: str
    pdq: str
    pdq_quality: int


def pdq_bits_to_hex(bits: np.ndarray) -> str:
    """PDQ's 256 bits as 64 hex digits in the reference order (most significant bit first)."""
    packed = np.packbits(np.asarray(bits, dtype=np.uint8).reshape(-1))
    return packed.tobytes().hex()


def decode_image(data: bytes, limits: ImageLimits = ImageLimits()) -> DecodedImage:
    """Decode the first frame of `data` within `limits`.

    Raises ImageDecodeError for anything not in ALLOWED_FORMATS, too many pixels or frames,
    truncated or corrupt data. Never raises anything else for bad bytes.
    """
    if not data:
        raise ImageDecodeError("the file is empty")
    try:
        with warnings.catch_warnings():
            # Pillow warns before it errors on bombs; treat the warning as the refusal it is.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            width, height = image.size
            if width <= 0 or height <= 0:
                raise ImageDecodeError("the image has no pixels")
            if width * height > limits.max_pixels:
                raise ImageDecodeError(
                    f"the image is {width}x{height}, over the {limits.max_pixels} pixel limit"
                )
            frames = int(getattr(image, "n_frames", 1) or 1)
            if frames > limits.max_frames:
                raise ImageDecodeError(f"the image has {frames} frames, over the limit")
            fmt = image.format or ""
            image.load()
            image = ImageOps.exif_transpose(image) or image
    except ImageDecodeError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageDecodeError("the file is not an image in a supported format") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError("the image is a decompression bomb") from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, IndexError) as exc:
        # Pillow reports truncated or corrupt data through these.
        raise ImageDecodeError("the image data is corrupt or truncated") from exc
    return DecodedImage(
        image, fmt, _MIME.get(fmt, "application/octet-stream"), width, height, frames
    )


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB pixels for hashing, for every Pillow mode.

    Alpha is dropped (PDQ's reference hashes the colour channels); 16-bit and 32-bit greys are
    scaled to 8 bits; CMYK, YCbCr, palettes and bilevel go through Pillow's own conversions.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I", "F"):
        array = np.asarray(image, dtype=np.float64)
        high = float(array.max()) if array.size else 0.0
        # Float greys are usually 0..1; 32-bit integer greys usually 16-bit data.
        scale = 255.0 if high <= 1.0 else (255.0 / 65535.0 if high > 255.0 else 1.0)
        grey = np.clip(array * scale, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode in ("PA", "P") and "transparency" in image.info:
        return image.convert("RGBA").convert("RGB")
    return image.convert("RGB")


def pdq_of(image: Image.Image) -> tuple[str, int]:
    """(pdq hex, quality 0-100) of a decoded image."""
    bits, quality = pdqhash.compute(np.asarray(to_rgb(image)))
    return pdq_bits_to_hex(bits), int(quality)


def pdq_dihedral_of(image: Image.Image) -> tuple[list[str], int]:
    """The eight dihedral PDQ hashes (original first) and the quality, from one transform."""
    hashes, quality = pdqhash.compute_dihedral(np.asarray(to_rgb(image)))
    return [pdq_bits_to_hex(bits) for bits in hashes], int(quality)


def exact_hashes(data: bytes) -> tuple[str, str]:
    """(sha256, md5) hex of the raw bytes."""
    return hashlib.sha256(data).hexdigest(), md5_hex(data)


def md5_hex(data: bytes) -> str:
    """MD5 hex of the raw bytes; only because hash banks still exchange it."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def hash_image(
    data: bytes, limits: ImageLimits = ImageLimits()
) -> tuple[DecodedImage, ImageHashes]:
    """Decode and hash `data`; raises ImageDecodeError."""
    decoded = decode_image(data, limits)
    pdq, quality = pdq_of(decoded.image)
    sha256, md5 = exact_hashes(data)
    return decoded, ImageHashes(sha256, md5, pdq, quality)
