"""PDQ must agree with Meta's reference vectors exactly; decoding must refuse hostile files."""

from __future__ import annotations

import csv
import io

import pytest
from PIL import Image

from moderation.media.imaging import (
    ImageDecodeError,
    ImageLimits,
    decode_image,
    hash_image,
    pdq_dihedral_of,
)
from tests.conftest import TESTDATA
from tests.factories import make_image

PDQ_DIR = TESTDATA / "pdq"
ROWS = list(csv.DictReader((PDQ_DIR / "expected.csv").open()))


def test_reference_vectors_are_present():
    assert len(ROWS) >= 17, "tests/data/pdq/expected.csv is missing"


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
def test_pdq_matches_reference_exactly(row):
    _, hashes = hash_image((PDQ_DIR / row["file"]).read_bytes())
    assert hashes.pdq == row["pdq_hex"]
    assert hashes.pdq_quality == int(row["quality"])


def test_dihedral_hashes_include_the_rotated_reference():
    original = decode_image((PDQ_DIR / "dihedral/bridge-1-original.jpg").read_bytes()).image
    hashes, _ = pdq_dihedral_of(original)
    rotated = next(r["pdq_hex"] for r in ROWS if r["file"] == "dihedral/bridge-2-rotate-90.jpg")
    distances = [bin(int(h, 16) ^ int(rotated, 16)).count("1") for h in hashes]
    assert min(distances) <= 31 and distances[0] > 31


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"GIF89a garbage", "not an image"),
        (make_image(9, fmt="PNG")[:400], "corrupt"),
        (b"hello, not an image at all", "not an image"),
        (b"%PDF-1.7\n", "not an image"),
    ],
)
def test_hostile_bytes_are_refused_readably(data, reason):
    with pytest.raises(ImageDecodeError, match=reason):
        decode_image(data)


def test_pixel_limit_refuses_before_decoding():
    out = io.BytesIO()
    Image.new("L", (4000, 4000)).save(out, format="PNG")
    with pytest.raises(ImageDecodeError, match="pixel limit"):
        decode_image(out.getvalue(), ImageLimits(max_pixels=1_000_000))


def test_frame_limit():
    frames = [Image.new("RGB", (16, 16), (i, 0, 0)) for i in range(5)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageDecodeError, match="frames"):
        decode_image(out.getvalue(), ImageLimits(max_frames=3))


def test_format_outside_allow_list_is_refused():
    out = io.BytesIO()
    Image.new("RGB", (16, 16)).save(out, format="ICO")
    with pytest.raises(ImageDecodeError, match="not an image"):
        decode_image(out.getvalue())


def test_same_picture_in_png_and_jpeg_is_near():
    jpeg = make_image(3, fmt="JPEG")
    png = make_image(3, fmt="PNG")
    a, b = hash_image(jpeg)[1], hash_image(png)[1]
    assert a.sha256 != b.sha256
    assert bin(int(a.pdq, 16) ^ int(b.pdq, 16)).count("1") <= 31
