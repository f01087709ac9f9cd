"""Text signals for the moderation queue: Korean and English abuse vocabulary, incitement and
doxxing detection with spans into the original text, robust to common spelling evasions.

(`normalize` is deliberately not re-exported: the name would shadow the `normalize` submodule.)"""

from moderation.text_signals.detect import (
    KIND_DOXXING,
    KIND_INCITEMENT,
    KIND_LEXICON,
    TextSignal,
    detect_language,
    detect_text_signals,
)
from moderation.text_signals.lexicon import LEXICON, LexiconEntry
from moderation.text_signals.normalize import NormalizedText

__all__ = [
    "KIND_DOXXING",
    "KIND_INCITEMENT",
    "KIND_LEXICON",
    "LEXICON",
    "LexiconEntry",
    "NormalizedText",
    "TextSignal",
    "detect_language",
    "detect_text_signals",
]
