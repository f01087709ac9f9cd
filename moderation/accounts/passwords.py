"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile), and the strength
rule for new passwords (zxcvbn: its bundled lists of common and breached passwords, names,
words and keyboard patterns)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

_hasher = PasswordHasher()
_ARGON2_PREFIX = "$argon2"

MIN_PASSWORD_LENGTH = 12
# zxcvbn's score 3 means at least 10^8 guesses: beyond every list it carries and beyond online
# guessing under the sign-in throttle. `password1234` scores 1.
MIN_STRENGTH_SCORE = 3
# zxcvbn's matching grows quickly with length; a common password is found in its first 100
# characters, and anything longer is a passphrase the length rule already likes.
_STRENGTH_CHECKED_CHARS = 100


@cache
def dummy_hash() -> str:
    """A real argon2 hash of nothing anyone types, made with today's parameters (lazily: no
    work on import). Verifying against it when there is no usable hash keeps every failure
    as slow as a wrong password for a real account."""
    return _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches `stored_hash`. Always costs one full argon2 verification: a
    missing account, an invitee's unusable marker or a malformed hash is verified against the
    dummy hash and refused, so timing does not tell these apart from a wrong password."""
    usable = stored_hash is not None and stored_hash.startswith(_ARGON2_PREFIX)
    try:
        matched = _hasher.verify(stored_hash if usable else dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return bool(matched) and usable


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def too_guessable(password: str, user_inputs: Iterable[str] = ()) -> bool:
    """Whether `password` is common, breached or easily guessed (ASVS 6.2): found in zxcvbn's
    lists, a keyboard or date pattern, or built from `user_inputs` (the account's email)."""
    inputs = [word for word in user_inputs if word]
    result = zxcvbn(password[:_STRENGTH_CHECKED_CHARS], user_inputs=inputs)
    return int(result["score"]) < MIN_STRENGTH_SCORE
