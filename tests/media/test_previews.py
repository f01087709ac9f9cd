"""Server-side previews: blurred and greyscale, no metadata, region reveals, video sheets."""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image

from models import Detection, Media
from moderation.core.db import db
from moderation.media import previews
from moderation.media.store import media_store_for
from moderation.review.item import DetectionView
from tests.factories import csrf_token, login, make_image, make_user
from tests.review.review_factories import make_report


def _jpeg_with_exif(size: tuple[int, int] = (320, 240)) -> bytes:
    image = Image.open(io.BytesIO(make_image(3, size))).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "identifying-software"  # Software
    exif[0x8825] = {1: "N", 2: (37.0, 30.0, 0.0)}  # GPS info
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _media_id(html: str) -> int:
    return int(re.search(r'data-media-id="(\d+)"', html).group(1))


def test_preview_is_blurred_greyscale_without_exif(app, client):
    original = _jpeg_with_exif()
    assert _decoded(original).getexif().get(0x010F) == "SecretCam"
    make_user(app)
    report_id = make_report(app, media=[original])
    login(client)
    media_id = _media_id(client.get(f"/review/{report_id}").get_data(as_text=True))
    response = client.get(f"/review/media/{media_id}/preview.jpg")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    data = response.get_data()
    assert data != original and b"SecretCam" not in data and b"Exif" not in data
    preview = _decoded(data)
    assert not preview.getexif() and "icc_profile" not in preview.info
    pixels = np.asarray(preview.convert("RGB"), dtype=np.int16)
    # Greyscale: the channels agree; blurred: far less local detail than the original.
    assert np.abs(pixels[..., 0] - pixels[..., 1]).max() <= 3
    source = np.asarray(_decoded(original).convert("L"), dtype=np.float64)
    blurred = np.asarray(preview.convert("L"), dtype=np.float64)
    assert np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(source, axis=1)).mean() / 3


def test_revealed_image_is_reencoded_without_metadata(app, client):
    original = _jpeg_with_exif()
    make_user(app)
    report_id = make_report(app, media=[original])
    login(client)
    html = client.get(f"/review/{report_id}").get_data(as_text=True)
    answer = client.post(
        f"/review/media/{_media_id(html)}/reveal", data={"csrf_token": csrf_token(html)}
    )
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    reveal_url = re.search(r'src="(/review/reveals/\d+\.jpg)"', page).group(1)
    response = client.get(reveal_url)
    data = response.get_data()
    assert response.headers["Cache-Control"] == "no-store"
    assert data != original and b"SecretCam" not in data and not _decoded(data).getexif()
    # The pixels are the original's (colour, full detail), within JPEG re-encoding error.
    revealed = np.asarray(_decoded(data).convert("RGB"), dtype=np.int16)
    source = np.asarray(_decoded(original).convert("RGB"), dtype=np.int16)
    assert revealed.shape == source.shape
    assert np.abs(revealed - source).mean() < 6


def test_region_reveal_clears_only_the_region(app):
    original = make_image(5, (400, 400), fmt="PNG")
    report_id = make_report(app, media=[original], mime="image/png")
    with app.app_context():
        media = db.session.query(Media).filter_by(report_id=report_id).one()
        store = media_store_for(app.config)
        region = previews.Region(0.5, 0.5, 0.5, 0.5)
        out = np.asarray(
            _decoded(
                previews.revealed_image(store, media, region, previews.PreviewOptions())
            ).convert("RGB"),
            dtype=np.int16,
        )
    source = np.asarray(_decoded(original).convert("RGB"), dtype=np.int16)
    inside = np.abs(out[210:390, 210:390] - source[210:390, 210:390]).mean()
    outside = np.abs(out[10:190, 10:190] - source[10:190, 10:190]).mean()
    assert inside < 8 and outside > 20


def test_detection_boxes_are_drawn_on_the_preview(app):
    report_id = make_report(app, media=[make_image(1, (300, 300))])
    boxes = [DetectionView("X", 0.9, Detection("test", (50, 50, 100, 100), (300, 300)))]
    with app.app_context():
        media = db.session.query(Media).filter_by(report_id=report_id).one()
        store = media_store_for(app.config)
        plain = _decoded(previews.blurred_preview(store, media, previews.PreviewOptions()))
        boxed = _decoded(previews.blurred_preview(store, media, previews.PreviewOptions(), boxes))
    edge = np.asarray(boxed.convert("RGB"), dtype=np.int16)[50, 75:125]
    # The box outline is amber (strong red, weak blue) on a grey preview.
    assert (edge[:, 0] - edge[:, 2]).mean() > 100
    assert np.asarray(plain.convert("RGB"))[50, 100].std() < 5


def test_video_preview_is_a_blurred_contact_sheet(app):
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for index in range(20):
            frame = np.full((120, 160, 3), index * 12, dtype=np.uint8)
            frame[::8] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    video = buffer.getvalue()
    report_id = make_report(app, media=[video], mime="video/mp4")
    with app.app_context():
        media = db.session.query(Media).filter_by(report_id=report_id).one()
        sheet = previews.blurred_preview(
            media_store_for(app.config), media, previews.PreviewOptions()
        )
    image = _decoded(sheet)
    assert image.format == "JPEG" and image.width == 4 * 240
    assert sheet[:4] != video[:4]


def test_tampered_media_is_not_shown(app, client):
    make_user(app)
    report_id = make_report(app, media=[make_image(2)])
    with app.app_context():
        media = db.session.query(Media).filter_by(report_id=report_id).one()
        path = media_store_for(app.config)._path(media.storage_key)
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0xFF
    path.write_bytes(bytes(blob))
    login(client)
    html = client.get(f"/review/{report_id}").get_data(as_text=True)
    assert client.get(f"/review/media/{_media_id(html)}/preview.jpg").status_code == 404


def test_no_preference_turns_the_preview_into_an_unaudited_reveal(app, client):
    """Security finding 2: unticking both preferences gave a colour, unblurred image with no
    `media.reveal` event. A preference softens the blur; it never removes it."""
    from sqlalchemy import select

    from models import AuditEvent

    original = make_image(7, (480, 360))
    user_id = make_user(app)
    report_id = make_report(app, media=[original])
    with app.app_context():
        from moderation.review import wellness

        wellness.save_preferences(
            db.session, user_id, previews.PreviewOptions(blur=False, greyscale=False)
        )
    login(client)
    media_id = _media_id(client.get(f"/review/{report_id}").get_data(as_text=True))
    preview = _decoded(client.get(f"/review/media/{media_id}/preview.jpg").get_data())
    source = np.asarray(_decoded(original).convert("L").resize(preview.size), dtype=np.float64)
    shown = np.asarray(preview.convert("L"), dtype=np.float64)
    assert np.abs(np.diff(shown, axis=1)).mean() < np.abs(np.diff(source, axis=1)).mean() / 2
    with app.app_context():
        reveals = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "media.reveal")
        ).all()
    assert reveals == []
