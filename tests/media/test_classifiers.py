"""Tests for the ONNX classifier registry and the NudeNet detector's pre/post-processing.

Test images are generated shapes and gradients; no real people and no nudity are used.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from moderation.media.classifiers import (
    Classifier,
    Detection,
    ImageClassification,
    ManifestError,
    ModelIntegrityError,
    ModelLoadError,
    ModelNotFoundError,
    ModelRegistry,
    classify_image,
    default_registry,
    warmup,
)
from moderation.media.classifiers.manifest import PreprocessSpec
from moderation.media.classifiers.nudenet import (
    InputGeometry,
    decode_yolov8,
    map_boxes_to_original,
    non_max_suppression,
    prepare_input,
    yolov8_predictions,
)
from moderation.media.classifiers.registry import BUILTIN_MANIFEST_DIR
from tests.conftest import TESTDATA

REPO_ROOT = Path(__file__).resolve().parents[2]
NUDENET = "nudenet-320n"
BUILTIN_MANIFEST = BUILTIN_MANIFEST_DIR / "nudenet-320n.json"


def _nudenet_dir() -> Path:
    spec = importlib.util.find_spec("nudenet")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def _builtin_manifest_json() -> dict[str, Any]:
    return json.loads(BUILTIN_MANIFEST.read_text(encoding="utf-8"))


def _write_manifest(directory: Path, **overrides: Any) -> Path:
    raw = _builtin_manifest_json() | overrides
    path = directory / f"{raw['name']}.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry([BUILTIN_MANIFEST_DIR])


def _scene(width: int, height: int) -> Image.Image:
    """A gradient with geometric shapes: something for the detector to look at."""
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)
    red = np.broadcast_to(x, (height, width))
    green = np.broadcast_to(y[:, None], (height, width))
    blue = np.full((height, width), 128, dtype=np.float32)
    image = Image.fromarray(np.dstack([red, green, blue]).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 5, width // 2, height // 2), fill=(225, 185, 160))
    right, bottom = max(width // 2, width - 5), max(height // 2, height - 5)
    draw.rectangle((width // 2, height // 2, right, bottom), fill=(40, 40, 40))
    return image


# --- loading, checksum, integrity -------------------------------------------------------------


def test_nudenet_loads_from_installed_package_with_checked_sha256(registry: ModelRegistry):
    manifest = registry.manifest(NUDENET)
    model_path = manifest.resolve_file()

    assert model_path == _nudenet_dir() / "320n.onnx"
    assert hashlib.sha256(model_path.read_bytes()).hexdigest() == manifest.sha256
    assert manifest.licence.startswith("AGPL-3.0")

    session = registry.get(NUDENET).session()
    assert session.get_inputs()[0].shape[1] == 3
    assert session.get_providers() == ["CPUExecutionProvider"]


def test_manifest_labels_match_the_package_and_the_model(registry: ModelRegistry):
    manifest = registry.manifest(NUDENET)
    # nudenet's own label list, read from its source without importing it (it imports cv2).
    source = ast.parse((_nudenet_dir() / "nudenet.py").read_text(encoding="utf-8"))
    package_labels = next(
        ast.literal_eval(node.value)
        for node in source.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__labels" for t in node.targets)
    )
    assert list(manifest.labels) == package_labels
    # The ONNX file's own metadata (written by Ultralytics at export) agrees.
    metadata = registry.get(NUDENET).session().get_modelmeta().custom_metadata_map
    names = ast.literal_eval(metadata["names"])
    assert [names[i] for i in range(len(names))] == package_labels


def test_tampered_model_file_is_refused_before_loading(tmp_path: Path, monkeypatch):
    tampered = tmp_path / "320n.onnx"
    shutil.copyfile(_nudenet_dir() / "320n.onnx", tampered)
    with tampered.open("r+b") as model_file:
        model_file.seek(tampered.stat().st_size // 2)
        original = model_file.read(1)
        model_file.seek(-1, os.SEEK_CUR)
        model_file.write(bytes([original[0] ^ 0xFF]))
    _write_manifest(tmp_path, name="tampered-nudenet", file="320n.onnx")

    import onnxruntime

    def must_not_load(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a tampered model reached ONNX Runtime")

    monkeypatch.setattr(onnxruntime, "InferenceSession", must_not_load)
    tampered_registry = ModelRegistry([tmp_path])
    classifier = tampered_registry.get("tampered-nudenet")

    with pytest.raises(ModelIntegrityError, match="SHA-256 mismatch"):
        classifier.session()
    with pytest.raises(ModelIntegrityError):
        classify_image(_scene(64, 64), "tampered-nudenet", tampered_registry)
    assert classifier.session_pid is None


def test_untouched_copy_with_relative_path_loads(tmp_path: Path):
    shutil.copyfile(_nudenet_dir() / "320n.onnx", tmp_path / "320n.onnx")
    _write_manifest(tmp_path, name="copied-nudenet", file="320n.onnx")

    result = classify_image(_scene(64, 64), "copied-nudenet", ModelRegistry([tmp_path]))

    assert result.model == "copied-nudenet"


def test_classifiers_do_not_import_nudenet_or_opencv():
    code = (
        "import sys\n"
        "from PIL import Image\n"
        "from moderation.media.classifiers import classify_image\n"
        "classify_image(Image.new('RGB', (32, 32)))\n"
        "assert 'nudenet' not in sys.modules and 'cv2' not in sys.modules, 'imported'\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr


# --- sessions and processes -------------------------------------------------------------------


def _report_child_session(registry: ModelRegistry, connection: Any) -> None:
    classifier = registry.get(NUDENET)
    inherited_pid = classifier.session_pid
    session = classifier.session()
    result = classifier.classify(_scene(96, 64))
    connection.send(
        {
            "pid": os.getpid(),
            "inherited_pid": inherited_pid,
            "session_pid": classifier.session_pid,
            "session_id": id(session),
            "labels": sorted(result.scores),
        }
    )
    connection.close()


def test_forked_child_builds_its_own_session():
    registry = ModelRegistry([BUILTIN_MANIFEST_DIR])
    parent_session = registry.get(NUDENET).session()
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_report_child_session, args=(registry, sender))
    child.start()
    sender.close()
    assert receiver.poll(60), "child did not answer"
    report = receiver.recv()
    child.join(30)

    assert child.exitcode == 0
    assert report["pid"] != os.getpid()
    assert report["inherited_pid"] == os.getpid()
    assert report["session_pid"] == report["pid"]
    assert report["session_id"] != id(parent_session)
    assert report["labels"] == sorted(registry.manifest(NUDENET).labels)
    # The parent's session is untouched by the child.
    assert registry.get(NUDENET).session() is parent_session
    assert registry.get(NUDENET).session_pid == os.getpid()


def test_session_is_built_once_per_process_and_threads_are_bounded():
    registry = ModelRegistry([BUILTIN_MANIFEST_DIR], intra_op_threads=2)
    classifier = registry.get(NUDENET)

    assert classifier.session_pid is None
    assert registry.get(NUDENET) is classifier
    assert classifier.session() is classifier.session()
    assert classifier.intra_op_threads == 2
    with pytest.raises(ValueError):
        ModelRegistry([BUILTIN_MANIFEST_DIR], intra_op_threads=0)


def test_default_registry_is_cached_and_takes_operator_dirs(tmp_path: Path):
    assert default_registry() is default_registry()
    assert NUDENET in default_registry().names()

    shutil.copyfile(_nudenet_dir() / "320n.onnx", tmp_path / "320n.onnx")
    _write_manifest(tmp_path, name="operator-model", file="320n.onnx")
    operator_registry = default_registry(extra_dirs=[tmp_path], intra_op_threads=2)

    assert operator_registry.names() == ["nudenet-320n", "operator-model"]
    assert operator_registry.intra_op_threads == 2
    with pytest.raises(ManifestError):
        default_registry(intra_op_threads=0)


def test_operator_model_folders_and_threads_come_from_config(tmp_path: Path, monkeypatch):
    """MODERATION_MODELS_DIR and MODERATION_ONNX_THREADS reach triage through the config
    layers like every other setting; the registry reads no environment of its own."""
    from moderation import create_app
    from moderation.triage.pipeline import TriageSettings

    monkeypatch.setenv("MODERATION_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("MODERATION_ONNX_THREADS", "2")
    app = create_app({"TESTING": True, "SECRET_KEY": "k" * 48, "DATABASE_URL": "sqlite://"})
    settings = TriageSettings.from_config(app.config, app.instance_path)
    assert settings.classifier_dirs[0] == tmp_path and settings.classifier_threads == 2
    monkeypatch.setenv("MODERATION_ONNX_THREADS", "many")
    with pytest.raises(ManifestError):  # the factory refuses it, not the first triage job
        create_app({"TESTING": True, "SECRET_KEY": "k" * 48, "DATABASE_URL": "sqlite://"})


# --- the detector on generated images ---------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "size"),
    [
        ("RGB", (640, 480)),
        ("L", (300, 700)),
        ("RGBA", (97, 53)),
        ("P", (320, 320)),
        ("I;16", (5, 3)),
    ],
)
def test_detector_returns_well_formed_result(registry: ModelRegistry, mode: str, size):
    image = _scene(*size)
    image = image.convert(mode) if mode != "I;16" else image.convert("L").convert("I;16")

    result = classify_image(image, NUDENET, registry)

    labels = registry.manifest(NUDENET).labels
    assert result.model == NUDENET
    assert list(result.scores) == list(labels)
    assert all(0.0 <= score <= 1.0 for score in result.scores.values())
    assert [d.score for d in result.detections] == sorted(
        (d.score for d in result.detections), reverse=True
    )
    for detection in result.detections:
        _assert_box_inside(detection, size)
    encoded = json.loads(json.dumps(result.to_dict()))
    assert set(encoded) >= {"model", "detections", "scores", "face_with_exposed"}
    assert classify_image(image, NUDENET, registry).to_dict() == result.to_dict()


def test_low_threshold_detections_have_boxes_inside_the_image(tmp_path: Path):
    # Synthetic images rarely reach the real thresholds; a near-zero threshold makes the model
    # report its weak guesses, which exercises box mapping and NMS on real model output.
    thresholds = {"default": 0.001}
    _write_manifest(
        tmp_path,
        name="eager-nudenet",
        thresholds=thresholds,
        file=str(_nudenet_dir() / "320n.onnx"),
    )
    registry = ModelRegistry([tmp_path])
    for size in [(640, 480), (200, 900)]:
        result = classify_image(_scene(*size), "eager-nudenet", registry)
        assert result.detections, "expected weak detections at threshold 0.001"
        assert len(result.detections) <= 100
        for detection in result.detections:
            _assert_box_inside(detection, size)
            assert detection.score >= 0.001
            assert detection.score <= result.scores[detection.label] + 1e-6


def _assert_box_inside(detection: Detection, size: tuple[int, int]) -> None:
    x, y, w, h = detection.box
    assert all(isinstance(value, int) for value in detection.box)
    assert 0 <= x <= size[0] and 0 <= y <= size[1]
    assert w >= 0 and h >= 0
    assert x + w <= size[0] and y + h <= size[1]


def test_warmup_builds_the_session():
    registry = ModelRegistry([BUILTIN_MANIFEST_DIR])
    warmup(NUDENET, registry)
    assert registry.get(NUDENET).session_pid == os.getpid()


# --- pre-processing geometry, box mapping, NMS ------------------------------------------------


def test_letterbox_pads_right_and_bottom_and_keeps_aspect():
    image = Image.new("RGB", (640, 480), (255, 0, 51))
    tensor, geometry = prepare_input(image, (320, 320), PreprocessSpec())

    assert tensor.shape == (1, 3, 320, 320) and tensor.dtype == np.float32
    assert geometry == InputGeometry(640, 480, 0.5, 0.5)
    np.testing.assert_allclose(tensor[0, :, 100, 100], [1.0, 0.0, 0.2], atol=1e-6)
    assert not tensor[0, :, 240:, :].any(), "padding below the image must be black"
    assert tensor[0, :, 239, :].any()


def test_deep_greys_are_scaled_not_clipped_to_white():
    ramp = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    generated = Image.fromarray(ramp)
    images = [generated, generated.convert("I")]
    images.append(Image.open(TESTDATA / "pdq" / "formats" / "I16.png"))
    for image in images:
        tensor, _ = prepare_input(image, (64, 64), PreprocessSpec(mode="resize"))
        assert 0.2 < float(tensor.mean()) < 0.8, image.mode
    floats = Image.fromarray(np.full((4, 4), 0.5, dtype=np.float32))
    tensor, _ = prepare_input(floats, (4, 4), PreprocessSpec(mode="resize"))
    np.testing.assert_allclose(tensor, 127 / 255, atol=1e-6)


def test_resize_mode_with_mean_std_and_nhwc():
    spec = PreprocessSpec(
        mode="resize", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), layout="NHWC", channel_order="BGR"
    )
    tensor, geometry = prepare_input(Image.new("RGB", (40, 10), (255, 0, 0)), (8, 8), spec)

    assert tensor.shape == (1, 8, 8, 3)
    assert (geometry.scale_x, geometry.scale_y) == (0.2, 0.8)
    np.testing.assert_allclose(tensor[0, 3, 3], [-1.0, -1.0, 1.0], atol=1e-6)


def test_box_mapping_returns_original_pixels_and_clips():
    geometry = InputGeometry(original_width=640, original_height=480, scale_x=0.5, scale_y=0.5)
    boxes = np.array(
        [
            [160.0, 120.0, 320.0, 240.0],  # the whole image
            [50.0, 40.0, 20.0, 10.0],  # x 40..60, y 35..45 in the model
            [310.0, 230.0, 40.0, 40.0],  # crosses the right and bottom edges
            [5.0, 5.0, 30.0, 30.0],  # crosses the left and top edges
        ]
    )
    mapped = map_boxes_to_original(boxes, geometry)

    np.testing.assert_allclose(mapped[0], [0, 0, 640, 480])
    np.testing.assert_allclose(mapped[1], [80, 70, 40, 20])
    np.testing.assert_allclose(mapped[2], [580, 420, 60, 60])
    np.testing.assert_allclose(mapped[3], [0, 0, 40, 40])

    padded = InputGeometry(100, 50, scale_x=2.0, scale_y=2.0, pad_left=10.0, pad_top=20.0)
    np.testing.assert_allclose(
        map_boxes_to_original(np.array([[60.0, 70.0, 20.0, 40.0]]), padded), [[20, 15, 10, 20]]
    )


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10], [0, 0, 10, 20]], dtype=np.float64
    )
    scores = np.array([0.6, 0.9, 0.7, 0.8])

    # IoU(1, 0) = 81/119 > 0.45 suppressed; IoU(3, 1) = 81/219 < 0.45 and IoU(3, 0) = 0.5.
    assert non_max_suppression(boxes, scores, 0.45) == [1, 3, 2]
    assert non_max_suppression(boxes, scores, 0.5) == [1, 3, 2]
    assert non_max_suppression(boxes, scores, 0.3) == [1, 2]
    # Per class, overlapping boxes of different classes both survive.
    assert non_max_suppression(boxes, scores, 0.45, class_ids=np.array([0, 1, 0, 1])) == [
        1,
        3,
        2,
        0,
    ]
    assert non_max_suppression(np.zeros((0, 4)), np.zeros(0), 0.45) == []


def _synthetic_output(rows: list[tuple[float, float, float, float, int, float]]) -> np.ndarray:
    output = np.zeros((1, 4 + 18, len(rows)), dtype=np.float32)
    for anchor, (cx, cy, w, h, class_id, score) in enumerate(rows):
        output[0, :4, anchor] = (cx, cy, w, h)
        output[0, 4 + class_id, anchor] = score
    return output


SYNTHETIC_ROWS = [
    (100.0, 100.0, 40.0, 60.0, 1, 0.91),  # FACE_FEMALE
    (102.0, 101.0, 40.0, 60.0, 1, 0.55),  # duplicate face: suppressed
    (200.0, 220.0, 50.0, 50.0, 3, 0.62),  # FEMALE_BREAST_EXPOSED
    (60.0, 250.0, 30.0, 30.0, 9, 0.33),  # FEET_COVERED, under its 0.4 threshold
    (250.0, 60.0, 30.0, 40.0, 12, 0.15),  # FACE_MALE, too weak
]


def test_decode_yolov8_on_synthetic_output():
    geometry = InputGeometry(640, 480, 0.5, 0.5)
    thresholds = np.full(18, 0.4)
    thresholds[[1, 3, 12]] = 0.25
    predictions = yolov8_predictions(_synthetic_output(SYNTHETIC_ROWS), 18)

    detections = decode_yolov8(predictions, geometry, thresholds, 0.45)

    assert [(d.class_id, round(d.score, 2), d.box) for d in detections] == [
        (1, 0.91, (160, 140, 80, 120)),
        (3, 0.62, (350, 390, 100, 90)),  # clipped at the bottom edge (y 390..490 -> 480)
    ]
    transposed = np.transpose(_synthetic_output(SYNTHETIC_ROWS), (0, 2, 1))
    assert np.array_equal(yolov8_predictions(transposed, 18), predictions)


def test_postprocess_matches_the_nudenet_package():
    pytest.importorskip("cv2")
    from nudenet import nudenet as package

    output = _synthetic_output(SYNTHETIC_ROWS[:3])
    expected = package._postprocess([output], 0, 160, 1.0, 4 / 3, 640, 480, 320, 320)
    ours = decode_yolov8(
        yolov8_predictions(output, 18), InputGeometry(640, 480, 0.5, 0.5), np.full(18, 0.25), 0.45
    )
    labels = _builtin_manifest_json()["labels"]

    assert [(labels[d.class_id], round(d.score, 5), list(d.box)) for d in ours] == [
        (e["class"], round(e["score"], 5), e["box"]) for e in expected
    ]


def test_preprocessing_matches_the_nudenet_package_for_rgba_input():
    pytest.importorskip("cv2")
    from nudenet import nudenet as package

    # nudenet 3.4.2 yields RGB for 4-channel arrays (3-channel ones get BGR, its issue #203).
    square = _scene(320, 320).convert("RGBA")
    blob = package._read_image(np.asarray(square), 320)[0]
    ours, _ = prepare_input(square, (320, 320), PreprocessSpec())
    np.testing.assert_allclose(ours, blob, atol=1e-6)

    wide = _scene(640, 480).convert("RGBA")
    blob = package._read_image(np.asarray(wide), 320)[0]
    ours, _ = prepare_input(wide, (320, 320), PreprocessSpec())
    assert ours.shape == blob.shape
    # Different resamplers (Pillow antialiases), same geometry: only edges differ slightly.
    assert float(np.abs(ours - blob).mean()) < 0.01


# --- the identifiable-person signal -----------------------------------------------------------


def _result(*labels: str) -> ImageClassification:
    detections = [Detection(label, 0.9, (0, 0, 10, 10)) for label in labels]
    return ImageClassification(model=NUDENET, detections=detections, scores={})


def test_face_with_exposed_needs_both_in_one_image():
    both = _result("FACE_FEMALE", "FEMALE_BREAST_EXPOSED", "FEMALE_BREAST_EXPOSED")
    assert both.face_with_exposed and both.has_face
    assert both.exposed_labels == ["FEMALE_BREAST_EXPOSED"]
    assert both.to_dict()["face_with_exposed"] is True

    assert not _result("FACE_MALE").face_with_exposed
    assert not _result("MALE_GENITALIA_EXPOSED").face_with_exposed
    assert not _result("FACE_MALE", "FEMALE_BREAST_COVERED", "FEET_EXPOSED").face_with_exposed
    assert _result("FACE_MALE", "FEET_EXPOSED").exposed_labels == []


def test_builtin_manifest_declares_the_signal_labels(registry: ModelRegistry):
    manifest = registry.manifest(NUDENET)
    assert manifest.face_labels == {"FACE_FEMALE", "FACE_MALE"}
    assert "FEMALE_GENITALIA_EXPOSED" in manifest.exposed_labels
    assert "FEET_EXPOSED" not in manifest.exposed_labels


# --- any classifier by manifest, without code -------------------------------------------------


def _write_colour_classifier(directory: Path, input_size: int = 8, **manifest: Any) -> None:
    """A tiny ONNX classifier: average colour -> fixed Gemm -> logits for 'reddish'/'bluish'."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weights = np.array([[4.0, -4.0], [0.0, 0.0], [-4.0, 4.0]], dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["pixels"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("Gemm", ["flat", "weights"], ["logits"]),
        ],
        "colour",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(weights, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    model_bytes = model.SerializeToString()
    (directory / "colour.onnx").write_bytes(model_bytes)
    raw = {
        "name": "colour",
        "kind": "classifier",
        "file": "colour.onnx",
        "sha256": hashlib.sha256(model_bytes).hexdigest(),
        "input_size": [input_size, input_size],
        "labels": ["reddish", "bluish"],
        "thresholds": {"default": 0.5},
        "licence": "CC0-1.0 (generated in tests)",
        "postprocess": "softmax",
        "preprocess": {"mode": "resize", "scale": 1 / 255, "layout": "NCHW"},
    } | manifest
    (directory / "colour.json").write_text(json.dumps(raw), encoding="utf-8")


def test_generated_classifier_runs_through_the_registry_by_manifest(tmp_path: Path):
    _write_colour_classifier(tmp_path)
    registry = ModelRegistry([BUILTIN_MANIFEST_DIR, tmp_path])
    assert registry.names() == ["colour", NUDENET]

    red = classify_image(Image.new("RGB", (30, 20), (250, 10, 10)), "colour", registry)
    blue = classify_image(Image.new("RGB", (64, 64), (0, 0, 255)), "colour", registry)

    assert red.scores["reddish"] > 0.95 and abs(sum(red.scores.values()) - 1.0) < 1e-6
    assert [d.label for d in red.detections] == ["reddish"]
    assert red.detections[0].box == (0, 0, 30, 20)
    assert blue.scores["bluish"] > 0.95
    assert [d.label for d in blue.detections] == ["bluish"]
    assert not red.face_with_exposed and red.exposed_labels == []


def test_sigmoid_postprocess(tmp_path: Path):
    _write_colour_classifier(tmp_path, postprocess="sigmoid")
    registry = ModelRegistry([tmp_path])

    result = classify_image(Image.new("RGB", (8, 8), (255, 0, 0)), "colour", registry)

    # Logits are (+4, -4) for pure red: sigmoid gives independent probabilities.
    assert result.scores["reddish"] == pytest.approx(1 / (1 + np.exp(-4)), rel=1e-5)
    assert result.scores["bluish"] == pytest.approx(1 / (1 + np.exp(4)), rel=1e-5)


def test_manifest_input_size_must_match_the_model(tmp_path: Path):
    _write_colour_classifier(tmp_path, input_size=16)
    with pytest.raises(ModelLoadError, match="input"):
        ModelRegistry([tmp_path]).get("colour").session()


# --- manifest validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"sha256": "abc"}, "sha256"),
        ({"kind": "segmenter"}, "kind"),
        ({"postprocess": "softmax"}, "postprocess"),
        ({"thresholds": {"default": 0.4, "NOT_A_LABEL": 0.1}}, "unknown labels"),
        ({"thresholds": {"default": 1.5}}, r"\[0, 1\]"),
        ({"labels": ["A", "A"]}, "repeats"),
        ({"signals": {"face": ["NOSE"]}}, "unknown labels"),
        ({"preprocess": {"mode": "crop"}}, "mode"),
        ({"file": "package:../evil/320n.onnx"}, "package"),
    ],
)
def test_invalid_manifests_are_rejected(tmp_path: Path, override: dict[str, Any], message: str):
    _write_manifest(tmp_path, **override)
    with pytest.raises(ManifestError, match=message):
        ModelRegistry([tmp_path]).get(NUDENET).session()


def test_missing_keys_unknown_names_and_missing_files(tmp_path: Path):
    raw = _builtin_manifest_json()
    del raw["licence"]
    (tmp_path / "no-licence.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ManifestError, match="licence"):
        ModelRegistry([tmp_path])

    with pytest.raises(ManifestError, match="not found"):
        ModelRegistry([tmp_path / "absent"])
    with pytest.raises(ModelNotFoundError):
        ModelRegistry([BUILTIN_MANIFEST_DIR]).get("no-such-model")

    other = tmp_path / "other"
    other.mkdir()
    _write_manifest(other, name="gone", file="gone.onnx")
    _write_manifest(other, name="uninstalled", file="package:no_such_package_xyz/m.onnx")
    registry = ModelRegistry([other])
    with pytest.raises(ModelNotFoundError, match="not found"):
        registry.get("gone").session()
    with pytest.raises(ModelNotFoundError, match="not installed"):
        registry.get("uninstalled").session()


def test_a_classifier_is_lazy(tmp_path: Path):
    _write_manifest(tmp_path, name="gone", file="gone.onnx")
    # Building the registry and the classifier reads no model file.
    classifier = ModelRegistry([tmp_path]).get("gone")
    assert isinstance(classifier, Classifier)
    assert classifier.session_pid is None


def test_a_verified_file_that_is_not_onnx_is_a_load_error(tmp_path: Path):
    junk = b"this is not an ONNX model"
    (tmp_path / "junk.onnx").write_bytes(junk)
    _write_manifest(
        tmp_path, name="junk", file="junk.onnx", sha256=hashlib.sha256(junk).hexdigest()
    )
    with pytest.raises(ModelLoadError, match="cannot load"):
        ModelRegistry([tmp_path]).get("junk").session()
