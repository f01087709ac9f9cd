"""Model manifests: what an ONNX model file is, how to feed it and how to read its output.

One JSON file per model; adding a model is adding a manifest (and its file), not code.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, cast

ModelKind = Literal["detector", "classifier"]
PostprocessName = Literal["yolov8", "softmax", "sigmoid", "identity"]
PreprocessMode = Literal["letterbox", "resize"]
Layout = Literal["NCHW", "NHWC"]

_KINDS: frozenset[str] = frozenset({"detector", "classifier"})
_POSTPROCESS_BY_KIND: dict[str, frozenset[str]] = {
    "detector": frozenset({"yolov8"}),
    "classifier": frozenset({"softmax", "sigmoid", "identity"}),
}
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
PACKAGE_PREFIX = "package:"
_READ_CHUNK = 1 << 20


class ClassifierError(Exception):
    """Base class of every error raised by the classifier registry."""


class ManifestError(ClassifierError):
    """A manifest is missing, unreadable or invalid (a configuration error)."""


class ModelNotFoundError(ClassifierError):
    """No manifest has that name, or the model file it names cannot be found."""


class ModelIntegrityError(ClassifierError):
    """The model file's SHA-256 differs from its manifest: the file is refused, never loaded."""


class ModelLoadError(ClassifierError):
    """ONNX Runtime could not build a session from a verified file, or its input does not
    match the manifest."""


class ModelOutputError(ClassifierError):
    """The model failed to run or produced output its manifest does not describe."""


@dataclass(frozen=True)
class PreprocessSpec:
    """How an RGB image becomes the input tensor: ``(pixel * scale - mean) / std``.

    ``letterbox`` keeps the aspect ratio and pads right/bottom with black (as NudeNet does);
    ``resize`` stretches to the input size (usual for image classifiers).
    """

    mode: PreprocessMode = "letterbox"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    layout: Layout = "NCHW"
    channel_order: Literal["RGB", "BGR"] = "RGB"


@dataclass(frozen=True)
class NmsSpec:
    """Non-maximum suppression for detectors (defaults follow nudenet 3.4.2)."""

    iou: float = 0.45
    class_agnostic: bool = True


@dataclass(frozen=True)
class ModelManifest:
    """A validated manifest. ``input_size`` is (width, height) in model pixels.

    ``file`` is ``package:<top-level package>/<path>`` (a file shipped inside an installed
    Python package), an absolute path, or a path relative to the manifest's own directory.
    ``face_labels`` and ``exposed_labels`` name the labels behind the identifiable-person
    signal (a face and exposed intimate parts in one image); both are optional.
    """

    name: str
    kind: ModelKind
    file: str
    sha256: str
    input_size: tuple[int, int]
    labels: tuple[str, ...]
    thresholds: dict[str, float]
    licence: str
    postprocess: PostprocessName
    preprocess: PreprocessSpec = field(default_factory=PreprocessSpec)
    nms: NmsSpec = field(default_factory=NmsSpec)
    face_labels: frozenset[str] = frozenset()
    exposed_labels: frozenset[str] = frozenset()
    source: Path | None = None

    def threshold_for(self, label: str) -> float:
        """The score a prediction of ``label`` needs to count (falls back to ``default``)."""
        return self.thresholds.get(label, self.thresholds["default"])

    def resolve_file(self) -> Path:
        """The model file's path on this machine.

        Raises ModelNotFoundError if the package is not installed or the file does not exist.
        Never imports the package: ``find_spec`` of a top-level package locates its folder
        without running its ``__init__`` (nudenet's would import OpenCV).
        """
        if self.file.startswith(PACKAGE_PREFIX):
            path = _package_file(self.name, self.file[len(PACKAGE_PREFIX) :])
        else:
            path = Path(self.file)
            if not path.is_absolute():
                if self.source is None:
                    raise ModelNotFoundError(
                        f"model {self.name!r}: relative file but no manifest directory"
                    )
                path = self.source.parent / path
        if not path.is_file():
            raise ModelNotFoundError(f"model {self.name!r}: file not found: {path}")
        return path

    def read_verified_bytes(self) -> bytes:
        """The model file's bytes, after checking their SHA-256 against the manifest.

        The same bytes that were hashed are the ones handed to ONNX Runtime, so a file swapped
        between the check and the load cannot slip through. Raises ModelIntegrityError on a
        mismatch and ModelNotFoundError if the file is missing.
        """
        path = self.resolve_file()
        digest = hashlib.sha256()
        chunks: list[bytes] = []
        with path.open("rb") as model_file:
            while chunk := model_file.read(_READ_CHUNK):
                digest.update(chunk)
                chunks.append(chunk)
        actual = digest.hexdigest()
        if not hmac.compare_digest(actual, self.sha256):
            raise ModelIntegrityError(
                f"model {self.name!r}: SHA-256 mismatch (expected {self.sha256}, got {actual}); "
                "refusing to load"
            )
        return b"".join(chunks)


def _package_file(model_name: str, spec: str) -> Path:
    package, _, relative = spec.partition("/")
    parts = PurePosixPath(relative).parts
    if not package or not relative or "." in package or ".." in parts:
        raise ManifestError(
            f"model {model_name!r}: package file must be 'package:<top-level package>/<path>'"
        )
    module_spec = importlib.util.find_spec(package)
    if module_spec is None or not module_spec.submodule_search_locations:
        raise ModelNotFoundError(f"model {model_name!r}: package {package!r} is not installed")
    for location in module_spec.submodule_search_locations:
        candidate = Path(location).joinpath(*parts)
        if candidate.is_file():
            return candidate
    return Path(next(iter(module_spec.submodule_search_locations))).joinpath(*parts)


def load_manifest(path: Path) -> ModelManifest:
    """Read and validate one manifest file. Raises ManifestError naming the problem."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"cannot read manifest {path}: {error}") from error
    if not isinstance(raw, dict):
        raise ManifestError(f"manifest {path}: top level must be a JSON object")
    try:
        return parse_manifest(raw, source=path)
    except KeyError as error:
        raise ManifestError(f"manifest {path}: missing key {error}") from error
    except (ManifestError, TypeError, ValueError) as error:
        raise ManifestError(f"manifest {path}: {error}") from error


def parse_manifest(raw: dict[str, Any], source: Path | None = None) -> ModelManifest:
    """Validate a manifest mapping. Raises ManifestError (or KeyError/TypeError/ValueError
    for missing keys and wrong types, which ``load_manifest`` wraps)."""
    name = _string(raw, "name")
    if not _NAME.match(name):
        raise ManifestError(f"invalid model name {name!r}")
    kind = _string(raw, "kind")
    if kind not in _KINDS:
        raise ManifestError(f"model {name!r}: kind must be one of {sorted(_KINDS)}")
    postprocess = _string(raw, "postprocess")
    if postprocess not in _POSTPROCESS_BY_KIND[kind]:
        allowed = sorted(_POSTPROCESS_BY_KIND[kind])
        raise ManifestError(f"model {name!r}: postprocess for a {kind} must be one of {allowed}")
    sha256 = _string(raw, "sha256").lower()
    if not _SHA256_HEX.match(sha256):
        raise ManifestError(f"model {name!r}: sha256 must be 64 hex digits")
    labels = tuple(str(label) for label in raw["labels"])
    if not labels or len(set(labels)) != len(labels):
        raise ManifestError(f"model {name!r}: labels must be a non-empty list without repeats")
    thresholds = _thresholds(name, raw["thresholds"], labels)
    width, height = (int(value) for value in raw["input_size"])
    if width <= 0 or height <= 0:
        raise ManifestError(f"model {name!r}: input_size must be positive [width, height]")
    licence = _string(raw, "licence")
    signals = raw.get("signals", {})
    face_labels = frozenset(str(label) for label in signals.get("face", ()))
    exposed_labels = frozenset(str(label) for label in signals.get("exposed", ()))
    unknown = (face_labels | exposed_labels) - set(labels)
    if unknown:
        raise ManifestError(f"model {name!r}: signals name unknown labels {sorted(unknown)}")
    return ModelManifest(
        name=name,
        kind=cast(ModelKind, kind),
        file=_string(raw, "file"),
        sha256=sha256,
        input_size=(width, height),
        labels=labels,
        thresholds=thresholds,
        licence=licence,
        postprocess=cast(PostprocessName, postprocess),
        preprocess=_preprocess(name, raw.get("preprocess", {})),
        nms=_nms(name, raw.get("nms", {})),
        face_labels=face_labels,
        exposed_labels=exposed_labels,
        source=source,
    )


def _string(raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{key!r} must be a non-empty string")
    return value


def _thresholds(name: str, raw: Any, labels: tuple[str, ...]) -> dict[str, float]:
    if not isinstance(raw, dict) or "default" not in raw:
        raise ManifestError(f"model {name!r}: thresholds must be an object with a 'default'")
    thresholds = {str(label): float(value) for label, value in raw.items()}
    unknown = set(thresholds) - set(labels) - {"default"}
    if unknown:
        raise ManifestError(f"model {name!r}: thresholds for unknown labels {sorted(unknown)}")
    if any(not 0.0 <= value <= 1.0 for value in thresholds.values()):
        raise ManifestError(f"model {name!r}: thresholds must lie in [0, 1]")
    return thresholds


def _preprocess(name: str, raw: dict[str, Any]) -> PreprocessSpec:
    defaults = PreprocessSpec()
    mode = raw.get("mode", defaults.mode)
    layout = raw.get("layout", defaults.layout)
    channel_order = raw.get("channel_order", defaults.channel_order)
    if mode not in ("letterbox", "resize"):
        raise ManifestError(f"model {name!r}: preprocess.mode must be 'letterbox' or 'resize'")
    if layout not in ("NCHW", "NHWC"):
        raise ManifestError(f"model {name!r}: preprocess.layout must be 'NCHW' or 'NHWC'")
    if channel_order not in ("RGB", "BGR"):
        raise ManifestError(f"model {name!r}: preprocess.channel_order must be 'RGB' or 'BGR'")
    mean = _triple(name, "mean", raw.get("mean", defaults.mean))
    std = _triple(name, "std", raw.get("std", defaults.std))
    if any(value == 0.0 for value in std):
        raise ManifestError(f"model {name!r}: preprocess.std must not contain zero")
    return PreprocessSpec(
        mode=mode,
        scale=float(raw.get("scale", defaults.scale)),
        mean=mean,
        std=std,
        layout=layout,
        channel_order=channel_order,
    )


def _triple(name: str, key: str, raw: Any) -> tuple[float, float, float]:
    values = tuple(float(value) for value in raw)
    if len(values) != 3:
        raise ManifestError(f"model {name!r}: preprocess.{key} must have 3 values (R, G, B)")
    return (values[0], values[1], values[2])


def _nms(name: str, raw: dict[str, Any]) -> NmsSpec:
    defaults = NmsSpec()
    iou = float(raw.get("iou", defaults.iou))
    if not 0.0 < iou <= 1.0:
        raise ManifestError(f"model {name!r}: nms.iou must lie in (0, 1]")
    return NmsSpec(iou=iou, class_agnostic=bool(raw.get("class_agnostic", True)))
