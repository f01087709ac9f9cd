"""The ONNX model registry: manifests by name, one lazily built CPU session per process.

Sessions are created on first use and keyed by process id, so none crosses a fork: an RQ
work horse (or any forked child) builds its own after checking the file's SHA-256 again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from moderation.media.classifiers.manifest import (
    ManifestError,
    ModelLoadError,
    ModelManifest,
    ModelNotFoundError,
    ModelOutputError,
    load_manifest,
)
from moderation.media.classifiers.nudenet import (
    InputGeometry,
    class_max_scores,
    decode_yolov8,
    prepare_input,
    yolov8_predictions,
)

if TYPE_CHECKING:
    import onnxruntime

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "nudenet-320n"
BUILTIN_MANIFEST_DIR = Path(__file__).resolve().parent / "manifests"

# NudeNet's labels behind the key signal for an identifiable person; used when an
# ImageClassification is built without a manifest (the manifest's "signals" win otherwise).
NUDENET_FACE_LABELS: frozenset[str] = frozenset({"FACE_FEMALE", "FACE_MALE"})
NUDENET_EXPOSED_LABELS: frozenset[str] = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)


@dataclass(frozen=True)
class Detection:
    """One label found in an image; ``box`` is (x, y, width, height) in original pixels.

    Classifiers (no boxes) report each label over its threshold with a whole-image box.
    """

    label: str
    score: float
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class ImageClassification:
    """What one model saw in one image: detections over threshold, best first, and each
    label's highest raw score (thresholds not applied)."""

    model: str
    detections: list[Detection]
    scores: dict[str, float]
    face_label_set: frozenset[str] = field(default=NUDENET_FACE_LABELS, repr=False)
    exposed_label_set: frozenset[str] = field(default=NUDENET_EXPOSED_LABELS, repr=False)

    @property
    def exposed_labels(self) -> list[str]:
        """Detected exposed-intimate-part labels, sorted, without repeats."""
        return sorted({d.label for d in self.detections if d.label in self.exposed_label_set})

    @property
    def has_face(self) -> bool:
        """Whether a face was detected."""
        return any(d.label in self.face_label_set for d in self.detections)

    @property
    def face_with_exposed(self) -> bool:
        """A face and exposed intimate parts in one image: the identifiable-person signal."""
        return self.has_face and bool(self.exposed_labels)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (labels, scores, boxes: no pixels)."""
        return {
            "model": self.model,
            "detections": [
                {"label": d.label, "score": round(d.score, 4), "box": list(d.box)}
                for d in self.detections
            ],
            "scores": {label: round(score, 4) for label, score in self.scores.items()},
            "exposed_labels": self.exposed_labels,
            "has_face": self.has_face,
            "face_with_exposed": self.face_with_exposed,
        }


class Classifier:
    """One model from its manifest; builds its ONNX Runtime session lazily, once per process.

    Thread-safe within a process. ``intra_op_threads`` bounds ONNX Runtime's CPU threads so
    several workers can share a machine; inter-op parallelism is always 1.
    """

    def __init__(self, manifest: ModelManifest, intra_op_threads: int = 1) -> None:
        if intra_op_threads < 1:
            raise ValueError("intra_op_threads must be at least 1")
        self.manifest = manifest
        self.intra_op_threads = intra_op_threads
        self._session: onnxruntime.InferenceSession | None = None
        self._input_name = ""
        self._session_pid: int | None = None
        self._lock = threading.Lock()
        self._lock_pid = os.getpid()
        self._thresholds = np.asarray(
            [manifest.threshold_for(label) for label in manifest.labels], dtype=np.float64
        )

    @property
    def session_pid(self) -> int | None:
        """The process id the current session was built in (None before first use)."""
        return self._session_pid

    def session(self) -> onnxruntime.InferenceSession:
        """This process's session, built on first call after verifying the file's SHA-256.

        Raises ModelNotFoundError, ModelIntegrityError (file refused, nothing loaded) or
        ModelLoadError.
        """
        pid = os.getpid()
        session = self._session
        if session is not None and self._session_pid == pid:
            return session
        with self._process_lock():
            if self._session is None or self._session_pid != pid:
                self._session, self._input_name = self._build_session()
                self._session_pid = pid
            return self._session

    def _process_lock(self) -> threading.Lock:
        # A lock copied by fork may be held by a thread that does not exist in the child;
        # the child starts single-threaded, so replacing it there is safe.
        pid = os.getpid()
        if self._lock_pid != pid:
            self._lock = threading.Lock()
            self._lock_pid = pid
        return self._lock

    def _build_session(self) -> tuple[onnxruntime.InferenceSession, str]:
        import onnxruntime
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

        model_bytes = self.manifest.read_verified_bytes()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.intra_op_threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # Spinning threads burn CPU between jobs; a worker is mostly waiting.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            session = onnxruntime.InferenceSession(
                model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except (
            ort_errors.Fail,
            ort_errors.InvalidArgument,
            ort_errors.InvalidProtobuf,
            ort_errors.InvalidGraph,
            ort_errors.NotImplemented,
            ort_errors.RuntimeException,
        ) as error:
            raise ModelLoadError(f"model {self.manifest.name!r}: cannot load: {error}") from error
        model_input = session.get_inputs()[0]
        self._check_input_shape(model_input.shape)
        logger.info(
            "classifier session created model=%s pid=%d threads=%d sha256=%s",
            self.manifest.name,
            os.getpid(),
            self.intra_op_threads,
            self.manifest.sha256[:12],
        )
        return session, model_input.name

    def _check_input_shape(self, shape: Sequence[Any]) -> None:
        if len(shape) != 4:
            raise ModelLoadError(f"model {self.manifest.name!r}: input must be 4-D, got {shape}")
        height, width = (
            (shape[2], shape[3])
            if self.manifest.preprocess.layout == "NCHW"
            else (
                shape[1],
                shape[2],
            )
        )
        expected_width, expected_height = self.manifest.input_size
        for actual, expected in ((width, expected_width), (height, expected_height)):
            if isinstance(actual, int) and actual != expected:
                raise ModelLoadError(
                    f"model {self.manifest.name!r}: input is {shape}, manifest says "
                    f"{expected_width}x{expected_height}"
                )

    def classify(self, image: Image.Image) -> ImageClassification:
        """Run the model on ``image`` (any Pillow mode). Raises ClassifierError subclasses."""
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

        session = self.session()
        tensor, geometry = prepare_input(image, self.manifest.input_size, self.manifest.preprocess)
        try:
            outputs = session.run(None, {self._input_name: tensor})
        except (ort_errors.Fail, ort_errors.InvalidArgument, ort_errors.RuntimeException) as error:
            raise ModelOutputError(f"model {self.manifest.name!r}: run failed: {error}") from error
        if self.manifest.kind == "detector":
            return self._detections(np.asarray(outputs[0]), geometry)
        return self._class_scores(np.asarray(outputs[0]), image.size)

    def _detections(self, output: np.ndarray, geometry: InputGeometry) -> ImageClassification:
        labels = self.manifest.labels
        predictions = yolov8_predictions(output, len(labels))
        max_scores = class_max_scores(predictions)
        raw = decode_yolov8(
            predictions,
            geometry,
            self._thresholds,
            self.manifest.nms.iou,
            class_agnostic=self.manifest.nms.class_agnostic,
        )
        detections = [Detection(labels[r.class_id], r.score, r.box) for r in raw]
        return self._result(detections, dict(zip(labels, max_scores.tolist(), strict=True)))

    def _class_scores(self, output: np.ndarray, size: tuple[int, int]) -> ImageClassification:
        labels = self.manifest.labels
        logits = output.astype(np.float64).reshape(-1)
        if logits.size != len(labels):
            raise ModelOutputError(
                f"model {self.manifest.name!r}: {logits.size} outputs for {len(labels)} labels"
            )
        if self.manifest.postprocess == "softmax":
            exponentials = np.exp(logits - logits.max())
            probabilities = exponentials / exponentials.sum()
        elif self.manifest.postprocess == "sigmoid":
            probabilities = 1.0 / (1.0 + np.exp(-logits))
        else:
            probabilities = logits
        whole_image = (0, 0, size[0], size[1])
        detections = sorted(
            (
                Detection(label, float(score), whole_image)
                for label, score, threshold in zip(
                    labels, probabilities, self._thresholds, strict=True
                )
                if score >= threshold
            ),
            key=lambda detection: -detection.score,
        )
        return self._result(detections, dict(zip(labels, probabilities.tolist(), strict=True)))

    def _result(self, detections: list[Detection], scores: dict[str, float]) -> ImageClassification:
        return ImageClassification(
            model=self.manifest.name,
            detections=detections,
            scores=scores,
            face_label_set=self.manifest.face_labels,
            exposed_label_set=self.manifest.exposed_labels,
        )


class ModelRegistry:
    """Manifests discovered in ``manifest_dirs`` (``*.json``); later directories override
    earlier ones by model name, so an operator directory can replace a built-in manifest.

    Reads the manifests when built (raises ManifestError on a missing directory or a bad
    manifest); model files are read only when a classifier's session is first needed.
    """

    def __init__(self, manifest_dirs: Iterable[Path], intra_op_threads: int = 1) -> None:
        if intra_op_threads < 1:
            raise ValueError("intra_op_threads must be at least 1")
        self.intra_op_threads = intra_op_threads
        self._manifests: dict[str, ModelManifest] = {}
        self._classifiers: dict[str, Classifier] = {}
        for directory in manifest_dirs:
            self._discover(Path(directory))

    def _discover(self, directory: Path) -> None:
        if not directory.is_dir():
            raise ManifestError(f"manifest directory not found: {directory}")
        for path in sorted(directory.glob("*.json")):
            manifest = load_manifest(path)
            if manifest.name in self._manifests:
                logger.info("manifest %s overrides model %s", path, manifest.name)
            self._manifests[manifest.name] = manifest

    def names(self) -> list[str]:
        """The registered model names, sorted."""
        return sorted(self._manifests)

    def manifest(self, name: str) -> ModelManifest:
        """The manifest called ``name``; raises ModelNotFoundError."""
        try:
            return self._manifests[name]
        except KeyError:
            raise ModelNotFoundError(f"no model manifest named {name!r}") from None

    def get(self, name: str) -> Classifier:
        """The classifier called ``name`` (its session is built on first use, per process).

        Raises ModelNotFoundError for an unknown name.
        """
        classifier = self._classifiers.get(name)
        if classifier is None:
            candidate = Classifier(self.manifest(name), self.intra_op_threads)
            classifier = self._classifiers.setdefault(name, candidate)
        return classifier


_default_registries: dict[tuple[int, tuple[Path, ...], int], ModelRegistry] = {}
_default_lock = threading.Lock()


def default_registry(extra_dirs: Iterable[Path] = (), intra_op_threads: int = 1) -> ModelRegistry:
    """This process's registry of the built-in manifests and the operator's ``extra_dirs``
    (config ``MODELS_DIR`` and ``CLASSIFIER_MANIFEST_DIRS``), in that order, with
    ``intra_op_threads`` ONNX threads per session (config ``ONNX_THREADS``). Cached per process
    and arguments; a forked child builds its own. Raises ManifestError for threads below 1.
    """
    if isinstance(intra_op_threads, bool) or not isinstance(intra_op_threads, int):
        raise ManifestError("ONNX_THREADS must be a positive integer")
    if intra_op_threads < 1:
        raise ManifestError("ONNX_THREADS must be a positive integer")
    dirs = (BUILTIN_MANIFEST_DIR, *(Path(d) for d in extra_dirs))
    threads = intra_op_threads
    pid = os.getpid()
    key = (pid, dirs, threads)
    registry = _default_registries.get(key)
    if registry is not None:
        return registry
    with _default_lock:
        for stale in [k for k in _default_registries if k[0] != pid]:
            del _default_registries[stale]
        if key not in _default_registries:
            _default_registries[key] = ModelRegistry(dirs, intra_op_threads=threads)
        return _default_registries[key]


def classify_image(
    image: Image.Image, model: str = DEFAULT_MODEL, registry: ModelRegistry | None = None
) -> ImageClassification:
    """Classify one decoded image with ``model`` from ``registry`` (default: this process's).

    Raises ModelNotFoundError, ModelIntegrityError, ModelLoadError or ModelOutputError.
    """
    return (registry or default_registry()).get(model).classify(image)


def warmup(model: str = DEFAULT_MODEL, registry: ModelRegistry | None = None) -> None:
    """Build ``model``'s session and run it once on a blank image, so a worker's first job
    does not pay for loading. Raises what ``classify_image`` raises."""
    classifier = (registry or default_registry()).get(model)
    width, height = classifier.manifest.input_size
    classifier.classify(Image.new("RGB", (width, height)))
