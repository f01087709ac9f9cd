"""PDQ hash encodings: reference hex <-> 32 bytes <-> numpy matrices, and Hamming distance.

Reference byte order: the 64 hex characters are the 256 bits printed most significant first
(as python-threatexchange prints them), so byte 0 holds the first two hex characters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from moderation.pdq_index.errors import InvalidHashError

HASH_BYTES = 32
HASH_BITS = 256
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def hex_to_bytes(hex64: str) -> bytes:
    """Decode a 64-character PDQ hex string into its 32 bytes (reference byte order).

    Raises InvalidHashError for any other length or a non-hex character.
    """
    if (
        not isinstance(hex64, str)
        or len(hex64) != 2 * HASH_BYTES
        or not _HEX_DIGITS.issuperset(hex64)
    ):
        raise InvalidHashError("a PDQ hash is 64 hexadecimal characters")
    return bytes.fromhex(hex64)


def bytes_to_hex(raw: bytes) -> str:
    """Encode 32 hash bytes as 64 lower-case hex characters; InvalidHashError on another length."""
    if len(raw) != HASH_BYTES:
        raise InvalidHashError("a PDQ hash is 32 bytes")
    return bytes(raw).hex()


def hamming(a_hex: str, b_hex: str) -> int:
    """Hamming distance (0..256) between two PDQ hashes given as hex strings."""
    a = int.from_bytes(hex_to_bytes(a_hex), "big")
    b = int.from_bytes(hex_to_bytes(b_hex), "big")
    return (a ^ b).bit_count()


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """Pack pdqhash's 256-entry 0/1 vector (as from `pdqhash.compute`) into reference bytes."""
    vector = np.asarray(bits)
    if vector.shape != (HASH_BITS,):
        raise InvalidHashError("a PDQ bit vector has 256 entries")
    return np.packbits(vector.astype(bool)).tobytes()


def hashes_from_hex(hexes: Iterable[str]) -> np.ndarray:
    """Decode hex strings into an (n, 32) uint8 matrix, one row per hash."""
    rows = [hex_to_bytes(h) for h in hexes]
    return as_hash_matrix(rows)


def as_hash_matrix(hashes: np.ndarray | Sequence[bytes]) -> np.ndarray:
    """Validate and return hashes as a C-contiguous (n, 32) uint8 matrix.

    Accepts an (n, 32) uint8 array, one 32-byte row as a (32,) array, or a sequence of 32-byte
    `bytes`. Raises InvalidHashError otherwise.
    """
    if isinstance(hashes, np.ndarray):
        matrix = hashes.reshape(1, -1) if hashes.ndim == 1 else hashes
        if matrix.dtype != np.uint8 or matrix.ndim != 2 or matrix.shape[1] != HASH_BYTES:
            raise InvalidHashError("hashes must be an (n, 32) uint8 array")
        return np.ascontiguousarray(matrix)
    rows = list(hashes)
    if any(not isinstance(row, bytes | bytearray) or len(row) != HASH_BYTES for row in rows):
        raise InvalidHashError("each hash must be 32 bytes")
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), HASH_BYTES).copy()


def to_words(matrix: np.ndarray) -> np.ndarray:
    """View an (n, 32) uint8 hash matrix as (n, 4) native uint64 words (for XOR + popcount).

    The word order and endianness only need to be the same for every hash: Hamming distance does
    not depend on how the 256 bits are grouped.
    """
    return np.ascontiguousarray(matrix).view(np.uint64).reshape(-1, 4)


def popcount_rows(words: np.ndarray) -> np.ndarray:
    """Per-row popcount of a (k, 4) or (k, 2) uint64 matrix, as int64 (0..256)."""
    per_word = np.bitwise_count(words)  # (k, w) uint8, each 0..64
    if words.shape[1] == 2:
        # Two counts per row sum to at most 128: add the bytes of a uint16 view.
        pairs = np.ascontiguousarray(per_word).view(np.uint16).ravel()
        return ((pairs & np.uint16(0xFF)) + (pairs >> np.uint16(8))).astype(np.int64)
    # Sum the four bytes of each row through a uint32 view in two 16-bit lanes: a plain
    # multiply-by-0x01010101 would wrap at 256, which is a real distance (all bits differ).
    packed = np.ascontiguousarray(per_word).view(np.uint32).ravel()
    lanes = (packed & np.uint32(0x00FF00FF)) + ((packed >> np.uint32(8)) & np.uint32(0x00FF00FF))
    return ((lanes & np.uint32(0xFFFF)) + (lanes >> np.uint32(16))).astype(np.int64)
