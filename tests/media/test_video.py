"""Video decoding, vPDQ-style hashing, matching and previews, on clips generated with PyAV."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageDraw, ImageFilter

from moderation.media.imaging import pdq_bits_to_hex
from moderation.media.video import (
    FrameHash,
    VideoDecodeError,
    VideoLimits,
    contact_sheet,
    hash_video,
    match_videos,
    probe_video,
    sample_frames,
)

SIZE = (640, 480)
FPS = 24
SECONDS = 8
SCENE_SECONDS = 2
# Pillow's colour matrix for a classic sepia tone.
SEPIA = (0.393, 0.769, 0.189, 0, 0.349, 0.686, 0.168, 0, 0.272, 0.534, 0.131, 0)


def _texture(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A photo-like scene: value noise summed over octaves (large shapes dominate, as in
    photographs), plus a few solid shapes. Flat synthetic scenes make PDQ fragile."""
    width, height = size
    total = np.zeros((height, width, 3), dtype=np.float32)
    for cells, weight in ((3, 1.0), (6, 0.7), (12, 0.5), (24, 0.35), (48, 0.25)):
        noise = rng.random((cells, cells * width // height, 3), dtype=np.float32)
        for channel in range(3):
            layer = Image.fromarray(noise[:, :, channel], mode="F").resize(
                size, Image.Resampling.BICUBIC
            )
            total[:, :, channel] += weight * (np.asarray(layer) - 0.5)
    total = (total - total.min()) / (total.max() - total.min()) * 255
    image = Image.fromarray(total.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        left, top = int(rng.integers(0, width * 4 // 5)), int(rng.integers(0, height * 4 // 5))
        box = (
            left,
            top,
            left + int(rng.integers(width // 10, width // 3)),
            top + int(rng.integers(height // 10, height // 3)),
        )
        fill = tuple(int(value) for value in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)(box, fill=fill)
    return image


def render_clip(
    seed: int, seconds: int = SECONDS, size: tuple[int, int] = SIZE
) -> list[Image.Image]:
    """Frames of a clip with a new scene every SCENE_SECONDS and a dot moving across each."""
    rng = np.random.default_rng(seed)
    width, height = size
    per_scene = SCENE_SECONDS * FPS
    frames: list[Image.Image] = []
    while len(frames) < seconds * FPS:
        scene = _texture(rng, size)
        fill = tuple(int(value) for value in rng.integers(0, 256, 3))
        centre_y, radius = int(rng.integers(height // 5, height * 4 // 5)), height // 16
        for step in range(min(per_scene, seconds * FPS - len(frames))):
            frame = scene.copy()
            centre_x = radius + step * (width - 2 * radius) // per_scene
            ImageDraw.Draw(frame).ellipse(
                (centre_x - radius, centre_y - radius, centre_x + radius, centre_y + radius),
                fill=fill,
            )
            frames.append(frame)
    return frames


def encode(
    frames: list[Image.Image],
    codec: str = "libx264",
    container: str = "mp4",
    fps: int = FPS,
    size: tuple[int, int] | None = None,
    bit_rate: int | None = None,
    options: dict[str, str] | None = None,
) -> bytes:
    """Encode frames in memory with PyAV."""
    width, height = size or frames[0].size
    output = io.BytesIO()
    with av.open(output, "w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if bit_rate:
            stream.bit_rate = bit_rate
        if codec == "libx264":
            stream.options = {"preset": "veryfast"}  # keeps the fixture fast
        if options:
            stream.options = options
        for image in frames:
            frame = av.VideoFrame.from_image(image.convert("RGB"))
            if (width, height) != image.size:
                frame = frame.reformat(width=width, height=height)
            for packet in stream.encode(frame):
                muxer.mux(packet)
        for packet in stream.encode():
            muxer.mux(packet)
    return output.getvalue()


def decode_frames(data: bytes) -> list[Image.Image]:
    with av.open(io.BytesIO(data)) as demuxer:
        return [frame.to_image() for frame in demuxer.decode(video=0)]


def with_logo(image: Image.Image) -> Image.Image:
    """A 40x40 badge (white square, dark mark) in the bottom-right corner, like a watermark."""
    marked = image.copy()
    draw = ImageDraw.Draw(marked)
    right, bottom = image.width - 8, image.height - 8
    draw.rectangle((right - 40, bottom - 40, right - 1, bottom - 1), fill=(255, 255, 255))
    draw.rectangle((right - 30, bottom - 30, right - 11, bottom - 11), fill=(20, 20, 20))
    return marked


def retime(frames: list[Image.Image], fps: int) -> list[Image.Image]:
    """The same footage at another frame rate (nearest earlier frame)."""
    count = len(frames) * fps // FPS
    return [frames[index * FPS // fps] for index in range(count)]


def pdq_distance(left: str, right: str) -> int:
    return (int(left, 16) ^ int(right, 16)).bit_count()


@dataclass(frozen=True)
class Clips:
    source: list[Image.Image]
    original: bytes
    original_hashes: list[FrameHash]
    variants: dict[str, bytes]
    unrelated: bytes


@pytest.fixture(scope="module")
def clips() -> Clips:
    source = render_clip(seed=1)
    original = encode(source)
    decoded = decode_frames(original)
    fast_vp9 = {"deadline": "realtime", "cpu-used": "8"}
    variants = {
        "grey": encode([frame.convert("L") for frame in decoded]),
        "sepia": encode([frame.convert("RGB", SEPIA) for frame in decoded]),
        "logo": encode([with_logo(frame) for frame in decoded]),
        "vp9_320x240_30fps_webm": encode(
            retime(decoded, 30),
            "libvpx-vp9",
            "webm",
            fps=30,
            size=(320, 240),
            bit_rate=150_000,
            options=fast_vp9,
        ),
        "mpeg4_240x180_avi": encode(decoded, "mpeg4", "avi", size=(240, 180), bit_rate=100_000),
    }
    _, original_hashes = hash_video(original)
    return Clips(source, original, original_hashes, variants, encode(render_clip(seed=2)))


def test_hash_video_keeps_one_frame_per_second(clips: Clips) -> None:
    info, hashes = hash_video(clips.original)
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 640, 480, 24.0)
    assert "mp4" in info.container
    assert info.duration == pytest.approx(SECONDS, abs=0.1)
    assert [h.frame for h in hashes] == [second * FPS for second in range(SECONDS)]
    assert [h.timestamp for h in hashes] == pytest.approx(list(range(SECONDS)), abs=1e-3)
    assert all(h.quality >= 50 for h in hashes)
    # Each kept hash is the PDQ of the source frame at that second (less codec noise), and far
    # from the other scenes' frames: the sampling picks the right frames.
    for kept in hashes:
        bits, _ = pdqhash.compute(np.asarray(clips.source[kept.frame]))
        assert pdq_distance(kept.pdq, pdq_bits_to_hex(bits)) <= 16
        other_scene = clips.source[(kept.frame + SCENE_SECONDS * FPS) % len(clips.source)]
        bits, _ = pdqhash.compute(np.asarray(other_scene))
        assert pdq_distance(kept.pdq, pdq_bits_to_hex(bits)) > 31
    assert FrameHash.from_dict(hashes[3].to_dict()) == hashes[3]
    assert list(hashes[0].to_dict()) == ["frame", "quality", "pdq", "timestamp"]


def test_hash_video_at_two_frames_per_second(clips: Clips) -> None:
    _, hashes = hash_video(clips.original, fps=2.0)
    assert [h.frame for h in hashes] == [half * FPS // 2 for half in range(SECONDS * 2)]


VARIANT_STREAMS = {
    "grey": ("h264", 640, 480, 24.0),
    "sepia": ("h264", 640, 480, 24.0),
    "logo": ("h264", 640, 480, 24.0),
    "vp9_320x240_30fps_webm": ("vp9", 320, 240, 30.0),
    "mpeg4_240x180_avi": ("mpeg4", 240, 180, 24.0),
}


@pytest.mark.parametrize("variant", sorted(VARIANT_STREAMS))
def test_variants_match_the_original_both_ways(clips: Clips, variant: str) -> None:
    info, hashes = hash_video(clips.variants[variant])
    assert (info.codec, info.width, info.height, info.fps) == VARIANT_STREAMS[variant]
    assert len(hashes) == SECONDS
    forward = match_videos(hashes, clips.original_hashes)
    backward = match_videos(clips.original_hashes, hashes)
    print(f"{variant} ({info.codec} {info.width}x{info.height}): {forward}")
    assert forward.matched and backward.matched
    assert forward.query_match_share >= 0.85 and forward.target_match_share >= 0.85
    assert backward.query_match_share == forward.target_match_share


def test_unrelated_clip_does_not_match(clips: Clips) -> None:
    _, hashes = hash_video(clips.unrelated)
    result = match_videos(hashes, clips.original_hashes)
    assert not result.matched
    assert result.query_match_share == 0.0 and result.target_match_share == 0.0


def test_a_clip_of_the_video_matches_one_way_only(clips: Clips) -> None:
    first_half = clips.original_hashes[: SECONDS // 2]
    result = match_videos(first_half, clips.original_hashes)
    assert result.query_match_share == 1.0
    assert result.target_match_share == 0.5
    assert not result.matched


def _frame(pdq: str, quality: int = 100, frame: int = 0) -> FrameHash:
    return FrameHash(frame=frame, timestamp=float(frame), pdq=pdq, quality=quality)


def test_match_counts_distinct_usable_hashes_with_inclusive_threshold() -> None:
    base = 0xF0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0
    within = f"{base ^ ((1 << 31) - 1):064x}"  # 31 bits away: a match
    beyond = f"{base ^ ((1 << 32) - 1):064x}"  # 32 bits away: not a match
    original = f"{base:064x}"
    assert match_videos([_frame(original)], [_frame(within)]).matched
    assert not match_videos([_frame(original)], [_frame(beyond)]).matched
    # A static shot repeated ten times counts once, as in vPDQ.
    static = [_frame(original, frame=index) for index in range(10)]
    other = f"{base ^ (1 << 255) - 1:064x}"
    result = match_videos([*static, _frame(other)], [_frame(within)])
    assert (result.query_match_share, result.target_match_share) == (0.5, 1.0)
    # Low-quality frames are ignored; with nothing usable on one side nothing matches.
    flat = match_videos([_frame(original, quality=10)], [_frame(original)])
    assert (flat.query_match_share, flat.target_match_share, flat.matched) == (0.0, 0.0, False)
    assert not match_videos([], []).matched


def test_frame_hash_rejects_malformed_values() -> None:
    with pytest.raises(ValueError):
        FrameHash(frame=0, timestamp=0.0, pdq="xyz", quality=100)
    with pytest.raises(ValueError):
        FrameHash(frame=0, timestamp=0.0, pdq="0" * 64, quality=101)


def _jpeg(size: tuple[int, int] = (64, 64)) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", size, "red").save(output, "JPEG")
    return output.getvalue()


def _audio_only() -> bytes:
    output = io.BytesIO()
    with av.open(output, "w", format="mp4") as muxer:
        stream = muxer.add_stream("aac", rate=44100)
        for index in range(20):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 44100, index * 1024
            for packet in stream.encode(frame):
                muxer.mux(packet)
        for packet in stream.encode():
            muxer.mux(packet)
    return output.getvalue()


BAD_INPUTS = {
    "empty": (lambda clip: b"", "not_video"),
    "random": (lambda clip: np.random.default_rng(7).bytes(50_000), "not_video"),
    "jpeg": (lambda clip: _jpeg(), "not_video"),
    "playlist": (lambda clip: b"#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1/x.ts\n", "not_video"),
    "first_half_of_mp4": (lambda clip: clip[: len(clip) // 2], "corrupt"),
    "second_half_of_mp4": (lambda clip: clip[len(clip) // 2 :], "not_video"),
    "mp4_header_only": (lambda clip: clip[:64], "corrupt"),
    "audio_only": (lambda clip: _audio_only(), "not_video"),
    "ffv1_codec": (
        lambda clip: encode(render_clip(3, seconds=1, size=(64, 48)), "ffv1", "matroska"),
        "unsupported_codec",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
@pytest.mark.parametrize("operation", [probe_video, hash_video, sample_frames, contact_sheet])
def test_bad_inputs_raise_video_decode_error_only(clips: Clips, name: str, operation) -> None:
    make, code = BAD_INPUTS[name]
    with pytest.raises(VideoDecodeError) as caught:
        operation(make(clips.original))
    assert caught.value.code == code
    assert "BytesIO" not in caught.value.message and "/" not in caught.value.message


def test_worker_survives_damaged_videos(clips: Clips) -> None:
    rng = np.random.default_rng(11)
    outcomes: list[str] = []
    for _ in range(16):
        damaged = bytearray(clips.original)
        start = int(rng.integers(0, len(damaged) - 4096))
        damaged[start : start + 4096] = rng.bytes(4096)
        try:
            _, hashes = hash_video(bytes(damaged))
        except VideoDecodeError as error:
            outcomes.append(error.code)
        else:
            outcomes.append(f"{len(hashes)} frames")
    assert len(outcomes) == 16
    # The process is still healthy: the intact video hashes exactly as before.
    assert hash_video(clips.original)[1] == clips.original_hashes


@pytest.mark.parametrize(
    ("limits", "code"),
    [
        (VideoLimits(max_bytes=10_000), "too_large"),
        (VideoLimits(max_pixels=320 * 240), "too_large"),
        (VideoLimits(max_duration_s=3), "too_long"),
        (VideoLimits(max_frames_decoded=30), "too_many_frames"),
        (VideoLimits(max_kept_frames=3), "too_many_frames"),
        (VideoLimits(deadline_s=0), "deadline"),
    ],
)
def test_limits_raise_their_codes(clips: Clips, limits: VideoLimits, code: str) -> None:
    with pytest.raises(VideoDecodeError) as caught:
        hash_video(clips.original, limits=limits)
    assert caught.value.code == code


def test_sample_frames_spread_over_the_whole_video(clips: Clips) -> None:
    samples = sample_frames(clips.original, count=4)
    assert len(samples) == 4
    assert all(image.mode == "RGB" and image.size == SIZE for image in samples)
    scenes = set()
    for image in samples:
        bits, _ = pdqhash.compute(np.asarray(image))
        sample_pdq = pdq_bits_to_hex(bits)
        nearest = min(clips.original_hashes, key=lambda kept: pdq_distance(kept.pdq, sample_pdq))
        assert pdq_distance(nearest.pdq, sample_pdq) <= 31
        scenes.add(int(nearest.timestamp) // SCENE_SECONDS)
    assert scenes == {0, 1, 2, 3}
    assert [image.size for image in sample_frames(clips.original, count=8, max_side=320)] == [
        (320, 240)
    ] * 8


def test_sample_frames_of_a_very_short_video_returns_every_frame() -> None:
    short = encode(render_clip(4, seconds=1, size=(64, 48))[:3])
    assert len(sample_frames(short, count=8)) == 3


def _jpeg_markers(data: bytes) -> list[int]:
    """Segment markers of a baseline JPEG up to the start of scan."""
    markers, position = [], 2
    while position < len(data):
        marker = data[position + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return markers


def _fine_detail(sheet: Image.Image, tile: tuple[int, int]) -> float:
    """Mean difference between a sheet and a slightly blurred copy, away from tile seams."""
    grey = np.asarray(sheet.convert("L"), np.float32)
    softened = np.asarray(sheet.convert("L").filter(ImageFilter.GaussianBlur(2)), np.float32)
    inside = np.ones(grey.shape, dtype=bool)
    for left in range(0, grey.shape[1], tile[0]):
        inside[:, max(0, left - 6) : left + 6] = False
    for top in range(0, grey.shape[0], tile[1]):
        inside[max(0, top - 6) : top + 6, :] = False
    return float(np.abs(grey - softened)[inside].mean())


def test_contact_sheet_is_a_blurred_grey_jpeg_without_metadata(clips: Clips) -> None:
    sheet_bytes = contact_sheet(clips.original)
    sheet = Image.open(io.BytesIO(sheet_bytes))
    assert sheet.format == "JPEG" and sheet.mode == "L"
    assert sheet.size == (4 * 240, 3 * 180)
    assert not sheet.getexif()
    # Only JFIF header, tables, frame and scan: no EXIF, XMP, ICC or comment segments.
    assert set(_jpeg_markers(sheet_bytes)) <= {0xE0, 0xDB, 0xC0, 0xC4, 0xDA}
    sharp = Image.open(io.BytesIO(contact_sheet(clips.original, blur_radius=0)))
    assert _fine_detail(sheet, (240, 180)) < 0.2 * _fine_detail(sharp, (240, 180))
    colour = Image.open(
        io.BytesIO(contact_sheet(clips.original, columns=2, rows=2, greyscale=False))
    )
    assert colour.mode == "RGB" and colour.size == (2 * 240, 2 * 180)


def test_contact_sheet_rejects_absurd_layouts(clips: Clips) -> None:
    with pytest.raises(ValueError):
        contact_sheet(clips.original, columns=0)
    with pytest.raises(ValueError):
        contact_sheet(clips.original, tile_width=5000)


def test_phone_rotation_is_applied_before_hashing_and_previews() -> None:
    upright = render_clip(5, seconds=4, size=(240, 320))
    # Phones store portrait video as landscape pixels plus "rotate 90 degrees to display".
    output = io.BytesIO()
    with av.open(output, "w", format="mp4") as muxer:
        stream = muxer.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.set_display_rotation(90)
        for image in upright:
            for packet in stream.encode(av.VideoFrame.from_image(image.rotate(-90, expand=True))):
                muxer.mux(packet)
        for packet in stream.encode():
            muxer.mux(packet)
    rotated = output.getvalue()
    info, rotated_hashes = hash_video(rotated)
    assert (info.width, info.height, info.rotation) == (240, 320, 90)
    assert probe_video(rotated) == info
    _, upright_hashes = hash_video(encode(upright))
    assert match_videos(rotated_hashes, upright_hashes).matched
    assert all(image.size == (240, 320) for image in sample_frames(rotated, count=2))
    sheet = Image.open(io.BytesIO(contact_sheet(rotated, columns=2, rows=1, tile_width=120)))
    assert sheet.size == (2 * 120, 160)


def test_clock_reset_in_joined_streams_still_samples_every_second() -> None:
    # MPEG-TS files can be joined byte for byte; the second part restarts the clock.
    first = encode(render_clip(6, seconds=2, size=(160, 120)), container="mpegts")
    second = encode(render_clip(7, seconds=2, size=(320, 240)), container="mpegts")
    _, hashes = hash_video(first + second)
    assert [h.frame for h in hashes] == [0, 24, 48, 72]
    assert [h.timestamp for h in hashes] == pytest.approx([0, 1, 2, 3], abs=0.05)
    # A frame size that grows mid-stream is refused inside FFmpeg, before it is allocated.
    with pytest.raises(VideoDecodeError) as caught:
        hash_video(first + second, limits=VideoLimits(max_pixels=160 * 120 * 2))
    assert caught.value.code == "too_large"
