"""Signals: what triage found, as Signal rows the UI can explain (text spans, classifier boxes,
bank and cluster matches), and the priority facts read back from those rows.

Signal kinds are `models.SignalKind`; each kind's `details` is one typed shape in
models/signals.py (TextHit, Detection and DetectionSummary, BankHit, ClusterHit), which the
readers use too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from PIL import Image
from sqlalchemy.orm import Session

from models import (
    Detection,
    DetectionSummary,
    MediaState,
    Report,
    Signal,
    SignalKind,
    TextField,
    TextHit,
)
from models.signals import MINOR_HINT
from moderation.banks import matching as bank_match
from moderation.banks.index import BankIndex
from moderation.core import sla
from moderation.media.analysis import ImageAnalysis, VideoAnalysis
from moderation.media.classifiers import (
    ClassifierError,
    ImageClassification,
    classify_image,
    default_registry,
)
from moderation.text_signals import detect_language, detect_text_signals
from moderation.triage.policy import PriorityInput

log = logging.getLogger(__name__)

TEXT_FIELDS = (TextField.CONTENT_TEXT, TextField.COMMENT)
# Words suggesting the person pictured may be a minor. Korean has no word boundaries, so its
# terms match anywhere; English ones as whole words. "minor" also has innocent senses ("a minor
# edit"): a hint raises priority a little, it never decides anything.
_MINOR_HINTS = re.compile(
    r"중학생|중딩|고딩|고등학생|여고생|여중생|남고생|남중생|초딩|초등|미성년|"
    r"\b(?:minors?|underage|under-age|schoolgirls?|schoolboys?|middle[- ]schooler|"
    r"high[- ]schooler|jailbait)\b",
    re.IGNORECASE,
)


class BankMatchLike(Protocol):
    """What triage reads from a bank match (moderation/banks/matching.BankMatch)."""

    bank_kind: str

    def to_details(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class MinorHint:
    start: int
    end: int


def minor_hints(text: str) -> list[MinorHint]:
    return [MinorHint(m.start(), m.end()) for m in _MINOR_HINTS.finditer(text or "")]


def report_language(report: Report) -> str:
    """'ko', 'en' or 'und' from the reported text, else the reporter's comment."""
    for text in (report.content_text, report.comment):
        if text:
            language = detect_language(text)
            if language != "und":
                return language
    return "und"


def text_signals(report: Report) -> list[Signal]:
    """One Signal per hit in each text field, with its span so the UI can highlight it."""
    signals: list[Signal] = []
    for name in TEXT_FIELDS:
        text = getattr(report, name) or ""
        for hit in detect_text_signals(text):
            found = TextHit(name, hit.start, hit.end, hit.severity, hit.kind, hit.lang)
            signals.append(
                Signal(
                    kind=SignalKind.TEXT,
                    label=hit.label,
                    score=float(hit.severity),
                    details=found.to_details(),
                )
            )
        for hint in minor_hints(text):
            found = TextHit(name, hint.start, hint.end, 1, MINOR_HINT)
            signals.append(
                Signal(
                    kind=SignalKind.TEXT, label=MINOR_HINT, score=1.0, details=found.to_details()
                )
            )
    return signals


def classifier_signals(
    media_id: int,
    result: ImageClassification,
    analysed: Image.Image,
    original_size: tuple[int, int],
    sample: int | None = None,
) -> list[Signal]:
    """Signal rows for one classified image (or the video's sampled frame number `sample`).

    Boxes are stored as [x, y, w, h] in the original's pixels (the classifier saw `analysed`, a
    downscaled copy), so the UI can draw them over the preview."""
    scale_x = original_size[0] / max(analysed.width, 1)
    scale_y = original_size[1] / max(analysed.height, 1)
    signals = []
    for detection in result.detections:
        x, y, w, h = detection.box
        box = (round(x * scale_x), round(y * scale_y), round(w * scale_x), round(h * scale_y))
        signals.append(
            Signal(
                media_id=media_id,
                kind=SignalKind.CLASSIFIER,
                label=detection.label,
                score=round(detection.score, 4),
                details=Detection(result.model, box, original_size, sample).to_details(),
            )
        )
    # Summary rows, by the manifest's own label sets, so the policy need not know the model.
    if result.exposed_labels:
        label = "face_with_exposed" if result.face_with_exposed else "exposed"
        summary = DetectionSummary(result.model, original_size, result.exposed_labels, sample)
        signals.append(
            Signal(
                media_id=media_id,
                kind=SignalKind.CLASSIFIER,
                label=label,
                score=None,
                details=summary.to_details(),
            )
        )
    return signals


def classifier_error_signal(media_id: int, model: str, message: str) -> Signal:
    return Signal(
        media_id=media_id,
        kind=SignalKind.CLASSIFIER_ERROR,
        label=model[:64],
        details={"error": message[:300]},
    )


def classify(
    media_id: int,
    analysis: ImageAnalysis | VideoAnalysis,
    model: str,
    manifest_dirs: Sequence[Path] = (),
    threads: int = 1,
) -> list[Signal]:
    """Run the classifier on the image's small copy, or on each sampled video frame.

    The registry builds one session per process, lazily (never across a fork). A model that
    cannot load or run becomes a "classifier_error" signal, so the report still reaches review
    and the moderator sees it was not classified."""
    try:
        registry = default_registry(extra_dirs=manifest_dirs, intra_op_threads=threads)
        if isinstance(analysis, ImageAnalysis):
            small = analysis.classifier_image
            result = classify_image(small, model, registry)
            original = (analysis.decoded.width, analysis.decoded.height)
            return classifier_signals(media_id, result, small, original)
        found: list[Signal] = []
        for number, frame in enumerate(analysis.samples):
            result = classify_image(frame, model, registry)
            found += classifier_signals(media_id, result, frame, frame.size, sample=number)
        return found
    except ClassifierError as exc:
        log.error("classifier %s failed on media %s: %s", model, media_id, type(exc).__name__)
        return [classifier_error_signal(media_id, model, str(exc))]


def bank_signals(
    session: Session,
    index: BankIndex | None,
    media_id: int,
    analysis: ImageAnalysis | VideoAnalysis,
) -> list[Signal]:
    """Look the medium up in the hash banks (read-only) and return a Signal per match."""
    if isinstance(analysis, ImageAnalysis):
        matches = bank_match.match_media(
            session,
            index,
            pdq_dihedral=list(analysis.dihedral),
            pdq_quality=analysis.dihedral_quality,
            md5=analysis.md5,
            sha256=analysis.sha256,
        )
    else:
        matches = bank_match.match_media(
            session,
            None,
            pdq_dihedral=None,
            pdq_quality=None,
            md5=analysis.md5,
            sha256=analysis.sha256,
        )
        frames = [frame.to_dict() for frame in analysis.frames]
        matches += bank_match.match_video(session, frames)
    return bank_rows(media_id, matches)


def bank_rows(media_id: int, matches: Iterable[BankMatchLike]) -> list[Signal]:
    return [
        Signal(
            media_id=media_id,
            kind=SignalKind.BANK,
            label=str(match.bank_kind),
            details=match.to_details(),
        )
        for match in matches
    ]


def priority_facts(
    report: Report,
    signals: Sequence[Signal],
    cluster_reports: int,
    sla_hours: Mapping[str, Any],
    now: datetime,
) -> PriorityInput:
    """The policy's input, read from the report, its media states and its stored signals."""
    text_labels: dict[str, int] = {}
    minor = 0
    banks: list[str] = []
    face_with_exposed = exposed = False
    for signal in signals:
        if signal.kind == SignalKind.TEXT:
            hit = TextHit.from_details(signal.details)
            if hit is None:
                continue
            if hit.text_kind == MINOR_HINT:
                minor += 1
            else:
                text_labels[hit.text_kind] = text_labels.get(hit.text_kind, 0) + 1
        elif signal.kind == SignalKind.BANK:
            banks.append(signal.label)
        elif signal.kind == SignalKind.CLASSIFIER:
            if signal.label == "face_with_exposed":
                face_with_exposed = True
            elif signal.label == "exposed":
                exposed = True
    return PriorityInput(
        category=report.category,
        reporter_kind=report.reporter_kind,
        bank_matches=banks,
        face_with_exposed=face_with_exposed,
        exposed_nudity=exposed,
        minor_text_hints=minor,
        text_labels=text_labels,
        channel_members=_members(report.context),
        cluster_reports=cluster_reports,
        received_at=report.received_at,
        sla_deadline=sla.sla_deadline(sla_hours, report.category, report.received_at),
        failed_media=sum(1 for media in report.media if media.state == MediaState.FAILED),
        now=now,
    )


def _members(context: Mapping[str, Any] | None) -> int | None:
    value = (context or {}).get("member_count")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
