"""Refusing weak secrets: the session key, the media key and platforms' signing secrets.

Length alone lets through a key of 32 × "a" or 32 zero bytes. A secret a person chose may be
short of the ideal, but one that is a single repeated character, a short pattern repeated, or
made of very few distinct symbols is guessable whatever its length, so it is refused.
"""

from __future__ import annotations

# Thresholds chosen so random values never trip them: 32 random bytes have ~30.5 distinct values
# (fewer than 16 happens with probability far below 1e-12); a random 32-character base64 or
# hex string has ~16-26 distinct characters.
MIN_DISTINCT_BYTES = 16
MIN_DISTINCT_CHARACTERS = 10


def _is_repetition(value: str | bytes) -> bool:
    """True if `value` is a shorter unit repeated (e.g. "abcabcabc", 32 × "a")."""
    size = len(value)
    for unit in range(1, size // 2 + 1):
        if size % unit == 0 and value[:unit] * (size // unit) == value:
            return True
    return False


def weak_text_reason(value: str, min_length: int) -> str | None:
    """Why a secret typed as text is weak, or None if it is acceptable.

    Weak: shorter than `min_length`, a repeated pattern, or fewer than MIN_DISTINCT_CHARACTERS
    distinct characters. The reason never contains the secret.
    """
    if len(value) < min_length:
        return f"must be at least {min_length} characters"
    if _is_repetition(value) or len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return (
            "is too predictable (a repeated pattern or too few distinct characters);"
            " use a random value"
        )
    return None


def weak_key_reason(raw: bytes) -> str | None:
    """Why a binary key (already decoded) is weak, or None: a repeated pattern (all zeros) or
    fewer than MIN_DISTINCT_BYTES distinct byte values (half its length for a shorter key)."""
    if _is_repetition(raw) or len(set(raw)) < min(MIN_DISTINCT_BYTES, len(raw) // 2):
        return (
            "is not random (a repeated pattern or too few distinct bytes);"
            " generate it with os.urandom"
        )
    return None
