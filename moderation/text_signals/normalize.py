"""Evasion-resistant text normalisation for abuse matching, with an offset map so every match in
the normalised text can be pointed back at the exact characters of the original text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["NormalizedText", "compose_jamo", "fold", "normalize"]

# Characters that render as blank space but are letters to Unicode (Hangul fillers, braille blank).
# Abusers use them to split words invisibly, so they count as separators, never as letters.
_BLANK_LETTERS = frozenset("\u3164\u115f\u1160\uffa0\u2800")
_INVISIBLE_CATEGORIES = frozenset({"Mn", "Me", "Cf"})

# Leetspeak substitutions, applied only inside runs that also contain an ASCII letter, so that
# phone numbers, years and "3학년" keep their digits.
_LEET_DIGITS = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}
_LEET_SYMBOLS = {"@": "a", "$": "s", "!": "i"}
# Runs of letters/digits/symbols with at least one character that may be leetspeak.
_LEET_RUN = re.compile(r"[a-z0-9@$!]*[0-9@$!][a-z0-9@$!]*")
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")

# Modern Hangul jamo, as compatibility jamo (U+3131..U+3163), in Unicode syllable order.
_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = "ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"  # final index = position + 1
_INITIAL_INDEX = {jamo: index for index, jamo in enumerate(_INITIALS)}
_VOWEL_INDEX = {jamo: index for index, jamo in enumerate(_VOWELS)}
_FINAL_INDEX = {jamo: index + 1 for index, jamo in enumerate(_FINALS)}
_COMPOUND_VOWELS = {
    ("ㅗ", "ㅏ"): "ㅘ",
    ("ㅗ", "ㅐ"): "ㅙ",
    ("ㅗ", "ㅣ"): "ㅚ",
    ("ㅜ", "ㅓ"): "ㅝ",
    ("ㅜ", "ㅔ"): "ㅞ",
    ("ㅜ", "ㅣ"): "ㅟ",
    ("ㅡ", "ㅣ"): "ㅢ",
}
_COMPOUND_FINALS = {
    ("ㄱ", "ㅅ"): "ㄳ",
    ("ㄴ", "ㅈ"): "ㄵ",
    ("ㄴ", "ㅎ"): "ㄶ",
    ("ㄹ", "ㄱ"): "ㄺ",
    ("ㄹ", "ㅁ"): "ㄻ",
    ("ㄹ", "ㅂ"): "ㄼ",
    ("ㄹ", "ㅅ"): "ㄽ",
    ("ㄹ", "ㅌ"): "ㄾ",
    ("ㄹ", "ㅍ"): "ㄿ",
    ("ㄹ", "ㅎ"): "ㅀ",
    ("ㅂ", "ㅅ"): "ㅄ",
}
# Word characters for stage 4: what str.isalnum() accepts (re's \w without the underscore).
_TOKEN = re.compile(r"[^\W_]+")
_REPEATED_LETTER = re.compile(r"([a-z])\1+")
_SYLLABLE_BASE = 0xAC00
_SYLLABLE_LAST = 0xD7A3

# Jamo roles: "L" a consonant known to start a syllable, "T" one known to end it, "?" a consonant
# whose role must be inferred from its neighbours (compatibility and half-width jamo), "V" a vowel.
_ROLE_NONE = ""


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """A normalised string plus, for each of its characters, the original span it came from.

    `starts[i]`/`ends[i]` give the half-open span of the original text that produced character
    `i`; spans never decrease, so any normalised range maps to one contiguous original range.
    """

    text: str
    starts: list[int]
    ends: list[int]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalised range [start, end) (non-empty) to a span of the original text."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError("range outside the normalised text")
        return self.starts[start], self.ends[end - 1]


@lru_cache(maxsize=8192)
def _fold_char(char: str, casefold: bool) -> str:
    """NFKC (full-width, ligatures, circled letters) and optional case folding of one character,
    dropping the combining marks and format characters the folding may leave behind."""
    folded = unicodedata.normalize("NFKC", char)
    if casefold:
        folded = folded.casefold()
    return "".join(c for c in folded if unicodedata.category(c) not in _INVISIBLE_CATEGORIES)


def _conjoining_to_compat(code: int, explicit: bool) -> tuple[str, str] | None:
    """Map a modern conjoining jamo (U+1100 block) to (compatibility jamo, role), or None.

    `explicit` is False when the conjoining form came from folding a half-width jamo, which
    says nothing about the consonant's position in its syllable.
    """
    if 0x1100 <= code <= 0x1112:
        return _INITIALS[code - 0x1100], "L" if explicit else "?"
    if 0x1161 <= code <= 0x1175:
        return _VOWELS[code - 0x1161], "V"
    if 0x11A8 <= code <= 0x11C2:
        return _FINALS[code - 0x11A8], "T" if explicit else "?"
    return None


class _Units:
    """Parallel lists of normalised characters, their original spans and their jamo roles."""

    __slots__ = ("chars", "starts", "ends", "roles")

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.roles: list[str] = []

    def add(self, char: str, start: int, end: int, role: str = _ROLE_NONE) -> None:
        self.chars.append(char)
        self.starts.append(start)
        self.ends.append(end)
        self.roles.append(role)

    def freeze(self) -> NormalizedText:
        return NormalizedText("".join(self.chars), self.starts, self.ends)


def _fold_units(text: str, *, casefold: bool, jamo: bool) -> _Units:
    """Stage 1: per-character NFKC (+ case folding), invisible characters dropped, blank letters
    turned into spaces, and (if `jamo`) every modern jamo mapped to compatibility form with a role.
    """
    units = _Units()
    for index, char in enumerate(text):
        code = ord(char)
        if code < 0x80:
            units.add(char.lower() if casefold else char, index, index + 1)
            continue
        if _SYLLABLE_BASE <= code <= _SYLLABLE_LAST:
            units.add(char, index, index + 1)
            continue
        if char in _BLANK_LETTERS:
            units.add(" ", index, index + 1)
            continue
        if jamo and 0x3131 <= code <= 0x3163:
            units.add(char, index, index + 1, "V" if code >= 0x314F else "?")
            continue
        if jamo and 0x1100 <= code <= 0x11FF:
            mapped = _conjoining_to_compat(code, explicit=True)
            if mapped is not None:
                units.add(mapped[0], index, index + 1, mapped[1])
                continue
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            continue
        for piece in _fold_char(char, casefold):
            piece_code = ord(piece)
            if piece in _BLANK_LETTERS:
                units.add(" ", index, index + 1)
            elif jamo and 0x1100 <= piece_code <= 0x11FF:
                mapped = _conjoining_to_compat(piece_code, explicit=False)
                if mapped is not None:
                    units.add(mapped[0], index, index + 1, mapped[1])
                else:
                    units.add(piece, index, index + 1)
            else:
                units.add(piece, index, index + 1)
    return units


def _undo_leetspeak(units: _Units) -> None:
    """Stage 2 (in place): in runs of ASCII letters/digits/@$! holding at least one letter, read
    digits and symbols as the letters they imitate ("d33pf4k3", "r@pe", "nud1fy", "$lut")."""
    chars = units.chars
    for run in _LEET_RUN.finditer("".join(chars)):
        start, end = run.span()
        if not any(c in _ASCII_LETTERS for c in run.group()):
            continue
        for i in range(start, end):
            char = chars[i]
            if char in _LEET_DIGITS:
                chars[i] = _LEET_DIGITS[char]
            elif char in _LEET_SYMBOLS:
                before = i > start and chars[i - 1].isalnum()
                after = i + 1 < end and chars[i + 1].isalnum()
                # "@name" is a mention and "word!" punctuation: only mid-word symbols are
                # letters. A "$" may also lead a word ("$lut").
                if (before and after) or (char == "$" and after):
                    chars[i] = _LEET_SYMBOLS[char]


def _syllable(initial: str, vowel: str, final: str | None) -> str:
    final_index = _FINAL_INDEX[final] if final else 0
    code = _SYLLABLE_BASE + (_INITIAL_INDEX[initial] * 21 + _VOWEL_INDEX[vowel]) * 28 + final_index
    return chr(code)


def compose_jamo(jamo: list[tuple[str, str]]) -> list[tuple[str, int, int]]:
    """Compose a run of (compatibility jamo, role) pairs into Hangul syllables.

    Returns (character, first jamo index, last jamo index + 1) for each output character, so
    callers can map spans. A consonant of unknown role ("?") becomes a final only if the next
    jamo is not a vowel (otherwise it starts the next syllable, as a Korean IME decides); two
    consonants that form a compound final (ㄹ+ㄱ → ㄺ) merge under the same rule. Jamo that
    cannot join a syllable (lone consonants like "ㅋㅋ", initials "ㅈㅇㄴㅇ") are kept as they are.
    """
    out: list[tuple[str, int, int]] = []
    count = len(jamo)

    def is_vowel(position: int) -> bool:
        return position < count and jamo[position][1] == "V"

    index = 0
    while index < count:
        char, role = jamo[index]
        if role in ("L", "?") and char in _INITIAL_INDEX and is_vowel(index + 1):
            start = index
            vowel = jamo[index + 1][0]
            index += 2
            if is_vowel(index) and (vowel, jamo[index][0]) in _COMPOUND_VOWELS:
                vowel = _COMPOUND_VOWELS[(vowel, jamo[index][0])]
                index += 1
            final: str | None = None
            if index < count and jamo[index][1] in ("T", "?") and jamo[index][0] in _FINAL_INDEX:
                explicit_final = jamo[index][1] == "T"
                if explicit_final or not is_vowel(index + 1):
                    final = jamo[index][0]
                    index += 1
                    if (
                        index < count
                        and jamo[index][1] in ("T", "?")
                        and (final, jamo[index][0]) in _COMPOUND_FINALS
                        and not is_vowel(index + 1)
                    ):
                        final = _COMPOUND_FINALS[(final, jamo[index][0])]
                        index += 1
            out.append((_syllable(char, vowel, final), start, index))
            continue
        out.append((char, index, index + 1))
        index += 1
    return out


def _is_separator(char: str) -> bool:
    return not char.isalnum()


def _compose_hangul(units: _Units) -> _Units:
    """Stage 3: compose runs of jamo (separators between jamo are dropped: "ㅈ ㅣ ㅇ ㅣ ㄴ")
    into syllables, and let a lone consonant close an open syllable just before it ("이ㄴ")."""
    if not any(units.roles):
        return units
    out = _Units()
    chars, roles = units.chars, units.roles
    count = len(chars)
    index = 0
    while index < count:
        if not roles[index]:
            out.add(chars[index], units.starts[index], units.ends[index])
            index += 1
            continue
        run: list[int] = []
        cursor = index
        while cursor < count:
            if roles[cursor]:
                run.append(cursor)
                cursor += 1
                continue
            if _is_separator(chars[cursor]):
                ahead = cursor
                while ahead < count and not roles[ahead] and _is_separator(chars[ahead]):
                    ahead += 1
                if ahead < count and roles[ahead]:
                    cursor = ahead
                    continue
            break
        follows_directly = index > 0 and not _is_separator(chars[index - 1])
        if _attach_final(out, units, run, follows_directly=follows_directly):
            index = cursor
            continue
        for char, first, last in compose_jamo([(chars[i], roles[i]) for i in run]):
            out.add(char, units.starts[run[first]], units.ends[run[last - 1]])
        index = cursor
    return out


def _attach_final(out: _Units, units: _Units, run: list[int], *, follows_directly: bool) -> bool:
    """If `run` is one consonant right after an open syllable, make it that syllable's final."""
    if len(run) != 1 or not follows_directly or not out.chars:
        return False
    consonant, role = units.chars[run[0]], units.roles[run[0]]
    previous = out.chars[-1]
    if role not in ("?", "T") or consonant not in _FINAL_INDEX or len(previous) != 1:
        return False
    offset = ord(previous) - _SYLLABLE_BASE
    if not 0 <= offset <= _SYLLABLE_LAST - _SYLLABLE_BASE or offset % 28 != 0:
        return False
    out.chars[-1] = chr(ord(previous) + _FINAL_INDEX[consonant])
    out.ends[-1] = units.ends[run[0]]
    return True


def _collapse_separators(units: _Units) -> _Units:
    """Stage 4: separator runs between two single-character tokens are evasion ("지.인.능.욕",
    "d e e p") and vanish; any other separator run becomes one space, a real word gap, so that
    ordinary words are never glued together into a false hit ("다기능 욕실" stays two words)."""
    out = _Units()
    previous: tuple[int, int] | None = None
    for token in _TOKEN.finditer("".join(units.chars)):
        start, end = token.span()
        if previous is not None:
            previous_start, previous_end = previous
            if previous_end - previous_start > 1 or end - start > 1:
                out.add(" ", units.starts[previous_end], units.ends[start - 1])
        out.chars.extend(units.chars[start:end])
        out.starts.extend(units.starts[start:end])
        out.ends.extend(units.ends[start:end])
        previous = (start, end)
    return out


def _collapse_repeats(units: _Units) -> _Units:
    """Stage 5: runs of one repeated ASCII letter become one letter ("deeeepfake", "nuuudify").
    Lexicon terms are collapsed the same way when compiled, so "deepfake" still matches."""
    out = _Units()
    cursor = 0
    for run in _REPEATED_LETTER.finditer("".join(units.chars)):
        start, end = run.span()
        out.chars.extend(units.chars[cursor : start + 1])
        out.starts.extend(units.starts[cursor : start + 1])
        out.ends.extend(units.ends[cursor:start])
        out.ends.append(units.ends[end - 1])
        cursor = end
    out.chars.extend(units.chars[cursor:])
    out.starts.extend(units.starts[cursor:])
    out.ends.extend(units.ends[cursor:])
    return out


def normalize(text: str) -> NormalizedText:
    """Normalise `text` for lexicon matching.

    In order: NFKC and case folding (full-width "ｄｅｅｐ", ligatures), removal of zero-width and
    combining characters, leetspeak inside Latin words, Hangul jamo composition ("ㅈㅣㅇㅣㄴ" and
    conjoining jamo → "지인"), removal of separators inside spelled-out words ("지.인.능.욕",
    "d-e-e-p"), other separator runs reduced to one space, repeated Latin letters collapsed.
    Every output character maps back to its original span via `NormalizedText.original_span`.
    """
    units = _fold_units(text, casefold=True, jamo=True)
    _undo_leetspeak(units)
    units = _compose_hangul(units)
    units = _collapse_separators(units)
    return _collapse_repeats(units).freeze()


def fold(text: str) -> NormalizedText:
    """Light normalisation for PII patterns: NFKC (full-width digits "０１０"), case folding,
    invisible characters removed, blank letters as spaces; digits and punctuation are kept.
    (Folding case here lets the PII regexes run without re.IGNORECASE, several times faster.)"""
    return _fold_units(text, casefold=True, jamo=False).freeze()
