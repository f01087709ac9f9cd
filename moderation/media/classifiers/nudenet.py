"""Pillow/numpy pre- and post-processing for NudeNet-style (YOLOv8) ONNX detectors.

Follows nudenet 3.4.2's own ``_read_image``/``_postprocess`` (pad right/bottom with black to a
square, resize to the input size, ``/255``, NCHW; decode ``[1, 4 + classes, anchors]``, map
boxes back, clip, class-agnostic NMS at IoU 0.45) without importing nudenet or OpenCV. One
deliberate difference: we always feed RGB, as the Ultralytics-trained model expects; 3.4.2
feeds BGR for 3-channel images by a double channel swap (notAI-tech/NudeNet issue #203).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from moderation.media.classifiers.manifest import ModelOutputError, PreprocessSpec

# Pillow's BILINEAR antialiases when shrinking; reducing_gap first shrinks by an integer
# factor with a box filter, which keeps very large images fast at no visible cost.
_RESAMPLE = Image.Resampling.BILINEAR
_REDUCING_GAP = 3.0
MAX_DETECTIONS = 100


@dataclass(frozen=True)
class InputGeometry:
    """How model-input pixels map to original-image pixels.

    ``original = (model - pad) / scale`` on each axis; NudeNet's letterbox pads only on the
    right and bottom, so ``pad_left``/``pad_top`` are zero for it.
    """

    original_width: int
    original_height: int
    scale_x: float
    scale_y: float
    pad_left: float = 0.0
    pad_top: float = 0.0


@dataclass(frozen=True)
class RawDetection:
    """One detection in original-image pixels, before labels are attached."""

    class_id: int
    score: float
    box: tuple[int, int, int, int]


def to_rgb(image: Image.Image) -> Image.Image:
    """The image as 8-bit RGB, whatever its mode (alpha is dropped, not composited).

    Dropping alpha shows the model the pixels under transparent areas, which is what a
    moderator must see too: transparency is not a way to hide content from the detector.
    """
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # Pillow's own conversion clips deep greys at 255, which turns a 16-bit photo white.
        return Image.fromarray(_grey_to_8_bits(np.asarray(image))).convert("RGB")
    if image.mode == "La":
        # Pillow converts premultiplied La only to LA.
        return image.convert("LA").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        return image.convert("RGBA").convert("RGB")
    return image.convert("RGB")


def _grey_to_8_bits(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float64)
    peak = float(values.max()) if values.size else 0.0
    # Float greys are usually 0..1, integer ones 16-bit data; 8-bit range is kept as it is.
    if peak <= 1.0 and values.dtype.kind == "f":
        scale = 255.0
    elif peak > 255.0:
        scale = 255.0 / max(65535.0, peak)
    else:
        scale = 1.0
    return np.clip(values * scale, 0, 255).astype(np.uint8)


def prepare_input(
    image: Image.Image, input_size: tuple[int, int], spec: PreprocessSpec
) -> tuple[np.ndarray, InputGeometry]:
    """Turn ``image`` into a float32 batch of one for a model of ``input_size`` (width, height).

    Returns the tensor and the geometry needed to map boxes back to the original image.
    Raises ValueError for an empty image.
    """
    rgb = to_rgb(image)
    width, height = rgb.size
    if width <= 0 or height <= 0:
        raise ValueError("image has no pixels")
    target_width, target_height = input_size
    canvas, geometry = (
        _letterbox(rgb, target_width, target_height)
        if spec.mode == "letterbox"
        else _stretch(rgb, target_width, target_height)
    )
    pixels = np.asarray(canvas, dtype=np.float32)
    if spec.channel_order == "BGR":
        pixels = pixels[..., ::-1]
    pixels = pixels * np.float32(spec.scale)
    if spec.mean != (0.0, 0.0, 0.0) or spec.std != (1.0, 1.0, 1.0):
        pixels = (pixels - np.asarray(spec.mean, dtype=np.float32)) / np.asarray(
            spec.std, dtype=np.float32
        )
    if spec.layout == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(pixels[np.newaxis], dtype=np.float32), geometry


def _letterbox(
    rgb: Image.Image, target_width: int, target_height: int
) -> tuple[Image.Image, InputGeometry]:
    # Equivalent to NudeNet's "pad to a square, then resize" for square inputs, but resizes
    # first so a large photo is never padded at full resolution.
    width, height = rgb.size
    scale = min(target_width / width, target_height / height)
    new_width = min(target_width, max(1, round(width * scale)))
    new_height = min(target_height, max(1, round(height * scale)))
    resized = rgb.resize((new_width, new_height), _RESAMPLE, reducing_gap=_REDUCING_GAP)
    canvas = Image.new("RGB", (target_width, target_height), (0, 0, 0))
    canvas.paste(resized, (0, 0))
    geometry = InputGeometry(width, height, new_width / width, new_height / height)
    return canvas, geometry


def _stretch(
    rgb: Image.Image, target_width: int, target_height: int
) -> tuple[Image.Image, InputGeometry]:
    width, height = rgb.size
    resized = rgb.resize((target_width, target_height), _RESAMPLE, reducing_gap=_REDUCING_GAP)
    return resized, InputGeometry(width, height, target_width / width, target_height / height)


def map_boxes_to_original(boxes_cxcywh: np.ndarray, geometry: InputGeometry) -> np.ndarray:
    """Map ``(N, 4)`` centre-x, centre-y, width, height boxes in model pixels to
    ``(N, 4)`` float x, y, width, height in original pixels, clipped to the image."""
    boxes = np.asarray(boxes_cxcywh, dtype=np.float64).reshape(-1, 4)
    half_w, half_h = boxes[:, 2] / 2.0, boxes[:, 3] / 2.0
    x1 = (boxes[:, 0] - half_w - geometry.pad_left) / geometry.scale_x
    y1 = (boxes[:, 1] - half_h - geometry.pad_top) / geometry.scale_y
    x2 = (boxes[:, 0] + half_w - geometry.pad_left) / geometry.scale_x
    y2 = (boxes[:, 1] + half_h - geometry.pad_top) / geometry.scale_y
    x1 = np.clip(x1, 0.0, geometry.original_width)
    x2 = np.clip(x2, 0.0, geometry.original_width)
    y1 = np.clip(y1, 0.0, geometry.original_height)
    y2 = np.clip(y2, 0.0, geometry.original_height)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)


def non_max_suppression(
    boxes_xywh: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float,
    class_ids: np.ndarray | None = None,
) -> list[int]:
    """Greedy NMS: indices of kept boxes, best score first.

    A box is dropped when its IoU with a better kept box exceeds ``iou_threshold`` (OpenCV's
    ``NMSBoxes`` rule). With ``class_ids``, only boxes of the same class suppress each other.
    """
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if class_ids is not None:
        class_ids = np.asarray(class_ids).reshape(-1)
        kept: list[int] = []
        for class_id in np.unique(class_ids):
            members = np.flatnonzero(class_ids == class_id)
            kept.extend(
                int(members[i])
                for i in non_max_suppression(boxes[members], scores[members], iou_threshold)
            )
        return sorted(kept, key=lambda index: -scores[index])
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    areas = boxes[:, 2] * boxes[:, 3]
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        inter_w = np.clip(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0, None)
        inter_h = np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0, None)
        intersection = inter_w * inter_h
        union = areas[best] + areas[rest] - intersection
        iou = np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)
        order = rest[iou <= iou_threshold]
    return keep


def yolov8_predictions(output: np.ndarray, num_classes: int) -> np.ndarray:
    """The ``(anchors, 4 + classes)`` prediction matrix of one image.

    Accepts the standard export ``[1, 4 + classes, anchors]`` and the transposed
    ``[1, anchors, 4 + classes]``; anything else raises ModelOutputError.
    """
    array = np.asarray(output)
    width = 4 + num_classes
    if array.ndim != 3 or array.shape[0] != 1:
        raise ModelOutputError(f"detector output has shape {array.shape}, expected [1, C, N]")
    if array.shape[1] == width:
        return array[0].T
    if array.shape[2] == width:
        return array[0]
    raise ModelOutputError(f"detector output has shape {array.shape}, expected 4 + {num_classes}")


def class_max_scores(predictions: np.ndarray) -> np.ndarray:
    """Each class's best score over all anchors (thresholds not applied)."""
    if predictions.shape[0] == 0:
        return np.zeros(predictions.shape[1] - 4, dtype=np.float64)
    return predictions[:, 4:].max(axis=0).astype(np.float64)


def decode_yolov8(
    predictions: np.ndarray,
    geometry: InputGeometry,
    class_thresholds: np.ndarray,
    iou_threshold: float,
    class_agnostic: bool = True,
    max_detections: int = MAX_DETECTIONS,
) -> list[RawDetection]:
    """Detections from a ``(anchors, 4 + classes)`` matrix, best score first.

    An anchor counts for its best class when that score reaches the class's threshold
    (``class_thresholds[class_id]``). Boxes are mapped to original pixels and clipped before
    NMS, as NudeNet does; at most ``max_detections`` are returned.
    """
    class_scores = predictions[:, 4:]
    if class_scores.shape[0] == 0:
        return []
    class_ids = class_scores.argmax(axis=1)
    best_scores = class_scores[np.arange(class_scores.shape[0]), class_ids]
    candidates = best_scores >= class_thresholds[class_ids]
    if not candidates.any():
        return []
    boxes = map_boxes_to_original(predictions[candidates, :4], geometry)
    scores = best_scores[candidates].astype(np.float64)
    ids = class_ids[candidates]
    kept = non_max_suppression(boxes, scores, iou_threshold, None if class_agnostic else ids)
    return [
        RawDetection(
            class_id=int(ids[index]),
            score=float(scores[index]),
            box=(
                int(boxes[index, 0]),
                int(boxes[index, 1]),
                int(boxes[index, 2]),
                int(boxes[index, 3]),
            ),
        )
        for index in kept[:max_detections]
    ]
