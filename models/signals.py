"""What a Signal row's `details` hold, one typed shape per kind, shared by the code that writes
them (triage) and the code that reads them (the item page, previews, the policy's facts).

Each shape has `to_details()` (the JSON stored on the row) and `from_details()` (the row read
back, tolerant of rows written by older releases: a missing key takes its default, a malformed
one makes `from_details` return None so a reader skips the row instead of failing the page).
A producer and a reader that disagree on a key cannot both use these, which is the point: the
detector boxes once went unseen because triage wrote `box` while the item page read `boxes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class SignalKind(StrEnum):
    TEXT = "text"  # a span of the reported text or the comment
    CLASSIFIER = "classifier"  # one detection, or a per-image summary row
    CLASSIFIER_ERROR = "classifier_error"  # the model could not load or run
    BANK = "bank"  # a hash-bank entry matched
    CLUSTER = "cluster"  # another report's media matched


class TextField(StrEnum):
    CONTENT_TEXT = "content_text"
    COMMENT = "comment"


# The text hit kind that marks a word suggesting a minor (see moderation/triage/signals.py).
MINOR_HINT = "minor_hint"
# Summary rows a detector writes per image or frame, by its manifest's label sets.
SUMMARY_LABELS = frozenset({"exposed", "face_with_exposed"})


def _flat(shape: Any, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """A shape's fields as JSON-ready details, leaving out `optional` fields that are None."""
    details = {item.name: getattr(shape, item.name) for item in fields(shape)}
    return {k: v for k, v in details.items() if not (k in optional and v is None)}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class TextHit:
    """A span [start, end) of one text field; `text_kind` is the detector's family (lexicon,
    doxxing, incitement, minor_hint), `label` on the row says which rule."""

    field: str
    start: int
    end: int
    severity: int
    text_kind: str
    lang: str | None = None

    def to_details(self) -> dict[str, Any]:
        return _flat(self, optional=("lang",))

    @classmethod
    def from_details(cls, details: Mapping[str, Any] | None) -> TextHit | None:
        details = details or {}
        start, end = _int(details.get("start")), _int(details.get("end"))
        if start is None or end is None or end <= start:
            return None
        # Rows from before the field was recorded were found in the content text ("text").
        text_field = str(details.get("field") or TextField.CONTENT_TEXT)
        return cls(
            field=TextField.CONTENT_TEXT if text_field == "text" else text_field,
            start=start,
            end=end,
            severity=_int(details.get("severity")) or 1,
            text_kind=str(details.get("text_kind") or "lexicon"),
            lang=details.get("lang") if isinstance(details.get("lang"), str) else None,
        )


@dataclass(frozen=True)
class Detection:
    """One detector box, [x, y, w, h] in the pixels of the medium as decoded (upright), or of
    the sampled video frame `sample`; label and score live on the Signal row itself."""

    model: str
    box: tuple[int, int, int, int]
    image_size: tuple[int, int]
    sample: int | None = None

    def to_details(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "sample": self.sample,
            "image_size": list(self.image_size),
            "box": list(self.box),
        }

    @classmethod
    def from_details(cls, details: Mapping[str, Any] | None) -> Detection | None:
        details = details or {}
        box, size = details.get("box"), details.get("image_size")
        if not isinstance(box, list | tuple) or len(box) != 4:
            return None
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in box):
            return None
        if not isinstance(size, list | tuple) or len(size) != 2:
            return None
        if not all(_int(v) for v in size):
            return None
        return cls(
            model=str(details.get("model") or ""),
            box=(round(box[0]), round(box[1]), round(box[2]), round(box[3])),
            image_size=(int(size[0]), int(size[1])),
            sample=_int(details.get("sample")),
        )


@dataclass(frozen=True)
class DetectionSummary:
    """A per-image (or per-frame) row: which of the manifest's 'exposed' labels were found;
    the row's label is "exposed" or "face_with_exposed" (a face in the same image)."""

    model: str
    image_size: tuple[int, int]
    exposed_labels: list[str] = field(default_factory=list)
    sample: int | None = None

    def to_details(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "sample": self.sample,
            "image_size": list(self.image_size),
            "exposed_labels": list(self.exposed_labels),
        }


@dataclass(frozen=True)
class BankHit:
    """One bank entry a medium matched. `distance` is the PDQ Hamming distance (0 for exact
    hashes and video); `video_share`, for video, the smaller of the two vPDQ match shares."""

    bank_id: int
    bank_name: str
    bank_kind: str
    action_hint: str
    entry_id: int
    signal_type: str  # "pdq" | "md5" | "sha256" | "video"
    distance: int  # 0 for exact
    video_share: float | None = None

    def to_details(self) -> dict[str, Any]:
        return _flat(self, optional=("video_share",))

    @classmethod
    def from_details(cls, details: Mapping[str, Any] | None) -> BankHit | None:
        details = details or {}
        bank_id, entry_id = _int(details.get("bank_id")), _int(details.get("entry_id"))
        if bank_id is None or entry_id is None:
            return None
        share = details.get("video_share")
        return cls(
            bank_id=bank_id,
            bank_name=str(details.get("bank_name") or ""),
            bank_kind=str(details.get("bank_kind") or "other"),
            action_hint=str(details.get("action_hint") or ""),
            entry_id=entry_id,
            signal_type=str(details.get("signal_type") or ""),
            distance=_int(details.get("distance")) or 0,
            video_share=float(share) if isinstance(share, int | float) else None,
        )


@dataclass(frozen=True)
class ClusterHit:
    """One of our media (`media_id`, the row's own column) matching another report's
    (`matched_media_id`). The row's label is the method: sha256, pdq or video; `distance` the
    PDQ bits (pdq); the shares (video) the fraction of each video's distinct frames found in
    the other."""

    matched_media_id: int
    matched_report_id: int
    cluster_id: int
    distance: int | None = None
    query_share: float | None = None
    target_share: float | None = None

    def to_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "matched_media_id": self.matched_media_id,
            "matched_report_id": self.matched_report_id,
            "cluster_id": self.cluster_id,
        }
        if self.distance is not None:
            details["distance"] = self.distance
        if self.query_share is not None:
            details["query_match_share"] = round(self.query_share, 3)
            details["target_match_share"] = round(self.target_share or 0.0, 3)
        return details

    @classmethod
    def from_details(cls, details: Mapping[str, Any] | None) -> ClusterHit | None:
        details = details or {}
        keys = ("matched_media_id", "matched_report_id", "cluster_id")
        ids = [_int(details.get(key)) for key in keys]
        if any(value is None for value in ids):
            return None
        query, target = details.get("query_match_share"), details.get("target_match_share")
        return cls(
            matched_media_id=ids[0] or 0,
            matched_report_id=ids[1] or 0,
            cluster_id=ids[2] or 0,
            distance=_int(details.get("distance")),
            query_share=float(query) if isinstance(query, int | float) else None,
            target_share=float(target) if isinstance(target, int | float) else None,
        )
