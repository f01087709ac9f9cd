"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
_ARGON2_PREFIX = "$argon2"

MIN_PASSWORD_LENGTH = 12


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
