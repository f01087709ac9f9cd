"""Real triage output on the item page: a detector built here (an ONNX model whose output is two
fixed YOLOv8 boxes) runs inside triage through its manifest, and the item page, the preview and
the region reveal show what triage stored. The signals come from the producer, never from a
fixture that writes the shape the reader expects (that once hid boxes that never showed)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from models import AuditEvent, Detection, MediaReveal, Signal, SignalKind
from moderation.core.db import db
from tests.factories import (
    csrf_token,
    login,
    make_image,
    make_platform,
    make_user,
    post_report,
    report_body,
    run_worker_burst,
)

LABELS = ["FACE_FEMALE", "FEMALE_BREAST_EXPOSED"]
INPUT = 64
# (cx, cy, w, h) in the model's 64x64 input, class, score. The 320x240 image is letterboxed:
# scaled by 0.2 and padded at the bottom, so these are (100, 50, 100, 100) and (200, 150, 50,
# 50) in the original's pixels.
FIXED = [(30.0, 20.0, 20.0, 20.0, 0, 0.9), (45.0, 35.0, 10.0, 10.0, 1, 0.8)]
EXPECTED_BOXES = {"FACE_FEMALE": (100, 50, 100, 100), "FEMALE_BREAST_EXPOSED": (200, 150, 50, 50)}


def _fixed_box_detector(directory: Path) -> None:
    """Write an ONNX detector (input 1x3x64x64, YOLOv8 output 1x(4+2)x2) and its manifest."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    boxes = np.zeros((1, 4 + len(LABELS), len(FIXED)), dtype=np.float32)
    for anchor, (cx, cy, w, h, class_id, score) in enumerate(FIXED):
        boxes[0, :4, anchor] = (cx, cy, w, h)
        boxes[0, 4 + class_id, anchor] = score
    graph = helper.make_graph(
        [
            # The output must depend on the input for the runtime to keep the graph honest;
            # multiplied by zero, the pixels change nothing.
            helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
            helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
            helper.make_node("Add", ["nothing", "boxes"], ["output0"]),
        ],
        "fixed-boxes",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, INPUT, INPUT])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(boxes.shape))],
        [
            numpy_helper.from_array(np.zeros((), dtype=np.float32), "zero"),
            numpy_helper.from_array(boxes, "boxes"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fixed-boxes.onnx").write_bytes(data)
    manifest = {
        "name": "fixed-boxes",
        "kind": "detector",
        "file": "fixed-boxes.onnx",
        "sha256": hashlib.sha256(data).hexdigest(),
        "input_size": [INPUT, INPUT],
        "labels": LABELS,
        "thresholds": {"default": 0.5},
        "signals": {"face": ["FACE_FEMALE"], "exposed": ["FEMALE_BREAST_EXPOSED"]},
        "licence": "CC0-1.0 (generated in tests)",
        "postprocess": "yolov8",
        "preprocess": {"mode": "letterbox", "scale": 1 / 255, "layout": "NCHW"},
        "nms": {"iou": 0.45, "class_agnostic": True},
    }
    (directory / "fixed-boxes.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture
def triaged_report(app, client, tmp_path) -> int:
    _fixed_box_detector(tmp_path / "models")
    app.config.update(
        CLASSIFIER_MODEL="fixed-boxes",
        CLASSIFIER_MANIFEST_DIRS=str(tmp_path / "models"),
        MEDIA_INDEX_DIR=str(tmp_path / "media-index"),
    )
    platform = make_platform(app)
    body = report_body([make_image(3, (320, 240))])
    report_id = post_report(client, platform, body).get_json()["id"]
    run_worker_burst(app)
    return report_id


def _detections(app, report_id: int) -> dict[str, Detection]:
    with app.app_context():
        rows = db.session.execute(
            select(Signal).where(
                Signal.report_id == report_id, Signal.kind == SignalKind.CLASSIFIER
            )
        ).scalars()
        found = {row.label: Detection.from_details(row.details) for row in rows}
    return {label: found for label, found in found.items() if found is not None}


def test_triage_stores_the_detectors_boxes_in_original_pixels(app, triaged_report):
    detections = _detections(app, triaged_report)
    assert {label: d.box for label, d in detections.items()} == EXPECTED_BOXES
    assert all(d.image_size == (320, 240) and d.model == "fixed-boxes" for d in detections.values())


def test_item_page_shows_triage_boxes_and_reveals_only_that_region(app, client, triaged_report):
    make_user(app)
    login(client)
    html = client.get(f"/review/{triaged_report}").get_data(as_text=True)

    assert "FACE_FEMALE 0.90" in html and "FEMALE_BREAST_EXPOSED 0.80" in html
    assert "Reveal only this region: FACE_FEMALE" in html
    face_form = html.split("Reveal only this region: FACE_FEMALE")[0].rsplit("<form", 1)[1]
    fractions = {
        name: float(face_form.split(f'name="{name}" value="')[1].split('"')[0])
        for name in ("x", "y", "w", "h")
    }
    assert fractions == pytest.approx(
        {"x": 100 / 320, "y": 50 / 240, "w": 100 / 320, "h": 100 / 240}, abs=1e-4
    )

    media_id = int(html.split('data-media-id="')[1].split('"')[0])
    preview = client.get(f"/review/media/{media_id}/preview.jpg")
    assert preview.status_code == 200
    with Image.open(io.BytesIO(preview.data)) as image:
        pixels = image.convert("RGB")
        scale = pixels.width / 320
        # The box outline is drawn in amber on the grey preview: the left edge of the face box.
        x, y = round(100 * scale) + 1, round(100 * scale)
        r, g, b = pixels.getpixel((x, y))
        assert r > 200 and g > 150 and b < 90, (r, g, b)

    action = face_form.split('action="')[1].split('"')[0].replace("&amp;", "&")
    answer = client.post(action, data={"csrf_token": csrf_token(html), **fractions})
    assert answer.status_code == 302
    with app.app_context():
        reveal = db.session.execute(select(MediaReveal)).scalar_one()
        assert reveal.region == pytest.approx(fractions, abs=1e-4)
        assert db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "media.reveal")
        ).scalar_one()
