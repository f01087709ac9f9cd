"""`detect_text_signals`: the lexicon, incitement and doxxing detectors run over one text, their
hits merged into highlightable signals; plus a cheap script-based language guess.

Everything here is rules (lexicon + regex): no text model is loaded, because no honestly trained
Korean/English abuse model is available offline. A model would plug in through the ONNX registry."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import asdict, dataclass
from typing import Any

from moderation.text_signals.doxxing import find_doxxing
from moderation.text_signals.lexicon import match
from moderation.text_signals.normalize import fold, normalize

__all__ = [
    "KIND_DOXXING",
    "KIND_INCITEMENT",
    "KIND_LEXICON",
    "TextSignal",
    "detect_language",
    "detect_text_signals",
]

KIND_LEXICON = "lexicon"
KIND_DOXXING = "doxxing"
KIND_INCITEMENT = "incitement"
_KINDS = frozenset({KIND_LEXICON, KIND_DOXXING, KIND_INCITEMENT})
_LANGS = frozenset({"ko", "en"})


@dataclass(frozen=True)
class TextSignal:
    """One finding in a text: `text[start:end]` (original Python string indices) is the evidence.

    `kind` is "lexicon", "incitement" or "doxxing"; `severity` runs 1..3 (3 = most severe);
    `lang` is "ko" or "en". The signal holds offsets only, never the evidence itself, so it can be
    stored and logged without copying personal data.
    """

    kind: str
    label: str
    start: int
    end: int
    severity: int
    lang: str

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown signal kind {self.kind!r}")
        if not 0 <= self.start < self.end:
            raise ValueError("a signal needs a non-empty span")
        if not 1 <= self.severity <= 3:
            raise ValueError("severity must be 1..3")
        if self.lang not in _LANGS:
            raise ValueError(f"unknown signal language {self.lang!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with exactly the six fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextSignal:
        """Rebuild a signal stored with `to_dict`; raises KeyError/ValueError on bad data."""
        return cls(
            kind=str(data["kind"]),
            label=str(data["label"]),
            start=int(data["start"]),
            end=int(data["end"]),
            severity=int(data["severity"]),
            lang=str(data["lang"]),
        )


def _is_hangul(code: int) -> bool:
    return 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3131 <= code <= 0x318E


def detect_language(text: str) -> str:
    """ "ko", "en" or "und" by share of letters per script (a queue filter, not a classifier).

    A Hangul syllable counts as two letters, since it spells about as much as two or three Latin
    letters. A script wins with at least half of the weighted letters; no letters gives "und".
    """
    hangul = latin = other = 0
    for char in text:
        code = ord(char)
        if code < 0x80:
            if char.isalpha():
                latin += 1
        elif _is_hangul(code):
            hangul += 1
        elif char.isalpha():
            # Full-width and accented Latin count as Latin.
            if 0xFF21 <= code <= 0xFF5A or code <= 0x24F:
                latin += 1
            else:
                other += 1
    weighted_hangul = 2 * hangul
    total = weighted_hangul + latin + other
    if total == 0:
        return "und"
    if weighted_hangul * 2 >= total:
        return "ko"
    if latin * 2 >= total:
        return "en"
    return "und"


def _merge_same_label(signals: list[TextSignal]) -> list[TextSignal]:
    """Union overlapping spans of the same (kind, label), keeping the highest severity."""
    merged: list[TextSignal] = []
    open_by_label: dict[tuple[str, str], int] = {}
    for signal in sorted(signals, key=lambda s: (s.start, -s.end)):
        key = (signal.kind, signal.label)
        position = open_by_label.get(key)
        if position is not None and signal.start < merged[position].end:
            current = merged[position]
            merged[position] = TextSignal(
                current.kind,
                current.label,
                current.start,
                max(current.end, signal.end),
                max(current.severity, signal.severity),
                current.lang,
            )
            continue
        open_by_label[key] = len(merged)
        merged.append(signal)
    return merged


def _drop_subsumed(signals: list[TextSignal]) -> list[TextSignal]:
    """Drop an abuse-vocabulary signal lying strictly inside another of at least its severity
    ("능욕" inside "지인능욕"): the larger one already says it. Doxxing signals are all kept."""
    abuse = sorted((s for s in signals if s.kind != KIND_DOXXING), key=lambda s: s.start)
    if not abuse:
        return signals
    starts = [s.start for s in abuse]
    longest = max(s.end - s.start for s in abuse)

    def subsumed(signal: TextSignal) -> bool:
        # Only signals starting within `longest` characters before this one can contain it.
        first = bisect_left(starts, signal.end - longest)
        last = bisect_right(starts, signal.start)
        return any(
            other.end >= signal.end
            and (other.end - other.start) > (signal.end - signal.start)
            and other.severity >= signal.severity
            for other in abuse[first:last]
        )

    return [s for s in signals if s.kind == KIND_DOXXING or not subsumed(s)]


def detect_text_signals(text: str) -> list[TextSignal]:
    """All abuse, incitement and doxxing signals in `text`, sorted by start (then longest first).

    Pure function of `text`: no I/O, no model. Overlapping hits of the same label are merged into
    one span. Language-neutral hits (emails, handles) take the text's language, "en" if unknown.
    Cost is linear in the length of the text.
    """
    if not text:
        return []
    text_lang = detect_language(text)
    neutral_lang = text_lang if text_lang in _LANGS else "en"
    signals: list[TextSignal] = [
        TextSignal(
            hit.entry.kind, hit.entry.label, hit.start, hit.end, hit.entry.severity, hit.entry.lang
        )
        for hit in match(normalize(text))
    ]
    signals.extend(
        TextSignal(
            KIND_DOXXING, hit.label, hit.start, hit.end, hit.severity, hit.lang or neutral_lang
        )
        for hit in find_doxxing(fold(text))
    )
    signals = _drop_subsumed(_merge_same_label(signals))
    return sorted(signals, key=lambda s: (s.start, -s.end, s.kind, s.label))
