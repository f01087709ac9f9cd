"""Images of every Pillow mode hash correctly and join their colour original's cluster; the
reference PDQ of a 16-bit grey still equals Meta's expected value."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from models import Report
from moderation.core.db import db
from moderation.media.analysis import analyse_image, matching_rgb
from moderation.media.imaging import ImageLimits, decode_image
from tests.conftest import TESTDATA
from tests.factories import make_image, make_platform, post_report, report_body, run_worker_burst


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _grey16(colour: Image.Image) -> Image.Image:
    """A true 16-bit grey of the picture (8-bit grey times 257, full range)."""
    return Image.fromarray(np.asarray(colour.convert("L")).astype(np.uint16) * 257)


def _grey12(colour: Image.Image) -> Image.Image:
    """16-bit storage holding 12-bit data, as scanners and medical devices write it."""
    return Image.fromarray(np.asarray(colour.convert("L")).astype(np.uint16) * 16)


# Each variant as the bytes a platform would send.
VARIANTS: dict[str, Callable[[Image.Image], bytes]] = {
    "1": lambda im: _save(im.convert("1"), "PNG"),
    "L": lambda im: _save(im.convert("L"), "PNG"),
    "LA": lambda im: _save(im.convert("LA"), "PNG"),
    "P": lambda im: _save(im.convert("P"), "PNG"),
    "P+transparency": lambda im: _save(im.convert("P"), "PNG", transparency=0),
    "RGBA": lambda im: _save(im.convert("RGBA"), "PNG"),
    "CMYK": lambda im: _save(im.convert("CMYK"), "JPEG", quality=95),
    "CMYK-TIFF": lambda im: _save(im.convert("CMYK"), "TIFF"),
    "YCbCr": lambda im: _save(im.convert("YCbCr"), "JPEG", quality=95),
    "I;16": lambda im: _save(_grey16(im), "PNG"),
    "I;16-12bit": lambda im: _save(_grey12(im), "PNG"),
    "I": lambda im: _save(im.convert("L").convert("I"), "TIFF"),
    "F": lambda im: _save(im.convert("L").convert("F"), "TIFF"),
    "WebP": lambda im: _save(im, "WEBP", quality=90),
}


def _pdq_distance(left: str, right: str) -> int:
    return (int(left, 16) ^ int(right, 16)).bit_count()


@pytest.fixture(scope="module")
def colour() -> Image.Image:
    return decode_image(make_image(80, (640, 480))).image.convert("RGB")


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_mode_hashes_near_its_colour_original(colour: Image.Image, name: str) -> None:
    original = analyse_image(_save(colour, "PNG"), ImageLimits())
    variant = analyse_image(VARIANTS[name](colour), ImageLimits())
    assert _pdq_distance(variant.dihedral[0], original.dihedral[0]) <= 16
    assert variant.dihedral_quality >= 50
    assert variant.classifier_image.mode == "RGB"


def test_pa_mode_in_memory_drops_alpha_like_la() -> None:
    image = decode_image(make_image(81)).image.convert("PA")
    assert matching_rgb(image).shape == (image.height, image.width, 3)


def test_reference_pdq_of_16_bit_grey_is_still_metas() -> None:
    with open(TESTDATA / "pdq" / "expected.csv", encoding="utf-8") as handle:
        expected = {row["file"]: row for row in csv.DictReader(handle)}["formats/I16.png"]
    data = (TESTDATA / "pdq" / "formats" / "I16.png").read_bytes()
    analysis = analyse_image(data, ImageLimits())
    assert analysis.decoded.image.mode == "I;16"
    assert (analysis.pdq, analysis.pdq_quality) == (expected["pdq_hex"], int(expected["quality"]))


def test_every_mode_joins_the_colour_originals_cluster(app, client, colour, tmp_path) -> None:
    app.config["MEDIA_INDEX_DIR"] = str(tmp_path / "media-index")
    app.config["BANK_INDEX_DIR"] = str(tmp_path / "bank-index")
    app.config["CLASSIFIER_MODEL"] = ""
    platform = make_platform(app)
    first = post_report(client, platform, report_body([_save(colour, "JPEG")])).get_json()["id"]
    ids = {
        name: post_report(client, platform, report_body([make(colour)])).get_json()["id"]
        for name, make in VARIANTS.items()
    }
    stranger = post_report(client, platform, report_body([make_image(82, (640, 480))]))
    run_worker_burst(app)
    with app.app_context():
        cluster = db.session.get(Report, first).cluster_id
        found = {name: db.session.get(Report, rid).cluster_id for name, rid in ids.items()}
        assert found == dict.fromkeys(VARIANTS, cluster)
        assert db.session.get(Report, stranger.get_json()["id"]).cluster_id != cluster
        for report_id in ids.values():
            assert db.session.get(Report, report_id).media[0].state == "hashed"
