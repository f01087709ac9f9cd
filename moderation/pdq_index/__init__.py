"""Exact PDQ near-duplicate index for bank lookups: 10 million hashes, shared via mmap.

See `moderation.pdq_index.index` for the caller contract and bench/index.py for figures.
"""

from moderation.pdq_index.codec import (
    bits_to_bytes,
    bytes_to_hex,
    hamming,
    hashes_from_hex,
    hex_to_bytes,
)
from moderation.pdq_index.errors import (
    DuplicateIdError,
    IndexFormatError,
    InvalidHashError,
    PdqIndexError,
    UnsupportedDistanceError,
)
from moderation.pdq_index.index import PdqIndex

__all__ = [
    "DuplicateIdError",
    "IndexFormatError",
    "InvalidHashError",
    "PdqIndex",
    "PdqIndexError",
    "UnsupportedDistanceError",
    "bits_to_bytes",
    "bytes_to_hex",
    "hamming",
    "hashes_from_hex",
    "hex_to_bytes",
]
