"""ONNX image classifiers: a manifest-driven model registry and the NudeNet detector."""

from moderation.classifiers.manifest import (
    ClassifierError,
    ManifestError,
    ModelIntegrityError,
    ModelLoadError,
    ModelManifest,
    ModelNotFoundError,
    ModelOutputError,
    load_manifest,
)
from moderation.classifiers.registry import (
    DEFAULT_MODEL,
    Classifier,
    Detection,
    ImageClassification,
    ModelRegistry,
    classify_image,
    default_registry,
    warmup,
)

__all__ = [
    "DEFAULT_MODEL",
    "Classifier",
    "ClassifierError",
    "Detection",
    "ImageClassification",
    "ManifestError",
    "ModelIntegrityError",
    "ModelLoadError",
    "ModelManifest",
    "ModelNotFoundError",
    "ModelOutputError",
    "ModelRegistry",
    "classify_image",
    "default_registry",
    "load_manifest",
    "warmup",
]
