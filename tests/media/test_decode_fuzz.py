"""A hypothesis harness over the decode path: arbitrary bytes, and real files (JPEG, PNG, GIF,
WebP, MP4) truncated, overwritten and spliced, never raise anything but the readable
MediaAnalysisError, and what decodes hashes its own bytes. FUZZ_EXAMPLES sets the number of
cases (a short run here; bench/fuzz.py runs the long one)."""

from __future__ import annotations

import hashlib
import io
import os
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from moderation.media.analysis import MediaAnalysisError, analyse
from moderation.triage.pipeline import TriageSettings
from tests.factories import make_image
from tests.media.test_video import encode, render_clip

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMITS = TriageSettings()


@cache
def seeds() -> tuple[bytes, ...]:
    picture = Image.open(io.BytesIO(make_image(40))).resize((48, 40))

    def saved(fmt: str, **options: object) -> bytes:
        buffer = io.BytesIO()
        picture.save(buffer, fmt, **options)
        return buffer.getvalue()

    frames = [picture, picture.rotate(90)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    return (
        saved("JPEG", quality=80),
        saved("PNG"),
        gif.getvalue(),
        saved("WEBP"),
        encode(render_clip(seed=6, seconds=1, size=(64, 48))),
    )


def check(data: bytes) -> None:
    try:
        result = analyse(data, LIMITS.image_limits, LIMITS.video_limits, 2)
    except MediaAnalysisError as error:
        assert str(error) and "BytesIO" not in str(error)
        return
    assert result.sha256 == hashlib.sha256(data).hexdigest()


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, len(data) - 1))
        chunk = draw(st.binary(min_size=1, max_size=64))
        data[at : at + len(chunk)] = chunk
    if draw(st.booleans()):
        data = data[: draw(st.integers(1, len(data)))]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(max_size=256))
    return bytes(data)


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(damaged())
def test_damaged_real_files(data: bytes) -> None:
    check(data)
