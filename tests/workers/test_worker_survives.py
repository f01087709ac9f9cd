"""A real RQ worker (burst mode, real Redis) survives corrupt video and image files: every job
finishes, the bad media are failed with readable reasons, and the reports still reach review."""

from __future__ import annotations

import io

from PIL import Image
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.serializers import JSONSerializer

from models import Report
from moderation.core.db import db
from moderation.core.queueing import queue
from tests.factories import make_image, make_platform, post_report, report_body, run_worker_burst
from tests.media.test_video import encode, render_clip


def _bad_files() -> dict[str, bytes]:
    video = encode(render_clip(seed=3, seconds=2, size=(160, 120)))
    image = make_image(90)
    png = io.BytesIO()
    Image.new("RGB", (64, 64)).save(png, format="PNG")
    scrambled = bytearray(video)
    scrambled[len(video) // 2 :] = bytes(len(video) - len(video) // 2)
    return {
        "truncated_video": video[: len(video) // 3],
        "zeroed_video": bytes(scrambled),
        "header_only_video": video[:64],
        "truncated_jpeg": image[: len(image) // 2],
        "png_with_broken_body": png.getvalue()[:40] + b"\x00" * 200,
        "random_bytes": bytes(range(256)) * 8,
    }


def test_worker_survives_corrupt_video_and_image_files(app, client, redis, tmp_path):
    app.config["MEDIA_INDEX_DIR"] = str(tmp_path / "media-index")
    app.config["BANK_INDEX_DIR"] = str(tmp_path / "bank-index")
    platform = make_platform(app)
    bad = _bad_files()
    bad_report = post_report(client, platform, report_body(list(bad.values()))).get_json()["id"]
    good_video = encode(render_clip(seed=4, seconds=2, size=(160, 120)))
    good_report = post_report(
        client, platform, report_body([make_image(91), good_video])
    ).get_json()["id"]

    run_worker_burst(app)

    triage_queue = queue("triage", redis)
    assert FailedJobRegistry(queue=triage_queue, serializer=JSONSerializer).count == 0
    assert FinishedJobRegistry(queue=triage_queue, serializer=JSONSerializer).count == 2
    with app.app_context():
        report = db.session.get(Report, bad_report)
        assert report.status == "queued"
        errors = {name: media.error for name, media in zip(bad, report.media, strict=True)}
        assert all(media.state == "failed" for media in report.media), errors
        assert "corrupt" in errors["truncated_video"] or "truncated" in errors["truncated_video"]
        assert "corrupt or truncated" in errors["truncated_jpeg"]
        assert errors["random_bytes"] == "the file is not an image or a video in a supported format"
        assert any(r["code"] == "media.failed" for r in report.priority_reasons)
        good = db.session.get(Report, good_report)
        assert [m.state for m in good.media] == ["hashed", "hashed"]
        assert [m.kind for m in good.media] == ["image", "video"]
