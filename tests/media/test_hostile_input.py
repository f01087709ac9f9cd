"""The hostile corpus (tests/media/hostile_corpus.py) through the decode path: each item ends as
the readable per-media error it names or as a correct hash, never as another exception."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from moderation.banks.matching import MIN_PDQ_QUALITY
from moderation.media.analysis import MediaAnalysisError, analyse
from moderation.media.imaging import pdq_of, to_rgb
from moderation.triage.pipeline import TriageSettings
from tests.factories import make_image
from tests.media.hostile_corpus import corpus, exif_rotated
from tests.media.test_video import pdq_distance

SETTINGS = TriageSettings()
ITEMS = {item.name: item for item in corpus()}


def _analyse(data: bytes):
    return analyse(data, SETTINGS.image_limits, SETTINGS.video_limits, SETTINGS.video_samples)


@pytest.mark.parametrize("name", sorted(ITEMS))
def test_each_item_ends_as_its_error_or_a_hash(name: str) -> None:
    item = ITEMS[name]
    if item.error is not None:
        with pytest.raises(MediaAnalysisError) as caught:
            _analyse(item.data)
        message = str(caught.value)
        assert item.error in message
        # Readable and safe to store: no object reprs, paths or bytes.
        assert "BytesIO" not in message and "/" not in message and "\\x" not in message
        return
    result = _analyse(item.data)
    assert result.sha256 == hashlib.sha256(item.data).hexdigest()
    assert result.md5 == hashlib.md5(item.data).hexdigest()  # noqa: S324 (banks' MD5 lists)
    assert len(result.pdq) == 64 and 0 <= result.pdq_quality <= 100


def _reference_pdq(data: bytes) -> str:
    return pdq_of(to_rgb(Image.open(io.BytesIO(data))))[0]


def test_exif_rotation_is_applied_before_hashing() -> None:
    data, upright = exif_rotated()
    assert _analyse(data).pdq == pdq_of(upright)[0]
    # ... and the stored (sideways) pixels would have hashed far away.
    assert pdq_distance(_analyse(data).pdq, _reference_pdq(data)) > 64


def test_names_and_trailers_do_not_change_what_is_hashed() -> None:
    """A PNG named .jpg, a JPEG declared as video and a JPEG with a ZIP after it hash as the
    pictures they are (routing is by magic bytes; trailing bytes are not pixels)."""
    jpeg_pdq = _analyse(make_image(30)).pdq
    for name in ("png_named_jpeg", "jpeg_named_video", "jpeg_then_zip_polyglot"):
        assert _analyse(ITEMS[name].data).pdq == jpeg_pdq, name
    # CMYK is a colour conversion away: near, if not equal.
    assert pdq_distance(_analyse(ITEMS["cmyk_jpeg"].data).pdq, jpeg_pdq) <= 16


def test_degenerate_shapes_hash_with_no_quality() -> None:
    """A 100000x1 line has no texture for PDQ: it hashes, and says its hash is worthless, so
    matching ignores it instead of calling every such line a copy."""
    for name in ("line_100000x1", "column_1x100000"):
        result = _analyse(ITEMS[name].data)
        assert result.pdq_quality < MIN_PDQ_QUALITY, name
