"""Domain errors of the PDQ near-duplicate index."""

from __future__ import annotations


class PdqIndexError(Exception):
    """Base class of every error the PDQ index raises on purpose."""


class InvalidHashError(PdqIndexError, ValueError):
    """A hash or id argument has the wrong type, shape, length or characters."""


class DuplicateIdError(PdqIndexError, ValueError):
    """The same entry id was given twice in one call (ids identify entries and must be unique)."""


class UnsupportedDistanceError(PdqIndexError, ValueError):
    """max_distance is outside 0..31, the range for which the index guarantees exact recall."""


class IndexFormatError(PdqIndexError):
    """The index directory is missing, incomplete or written by an incompatible version."""
