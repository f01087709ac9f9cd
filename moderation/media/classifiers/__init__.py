"""ONNX image classifiers: a manifest-driven model registry and the NudeNet detector."""

from moderation.media.classifiers.manifest import (
    ClassifierError,
    ManifestError,
    ModelIntegrityError,
    ModelLoadError,
    ModelManifest,
    ModelNotFoundError,
    ModelOutputError,
    load_manifest,
)
from moderation.media.classifiers.registry import (
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
