"""Response bodies decoded under a byte cap, so a compression bomb stops at the cap.

Content-Encoding is undone here (gzip, deflate) rather than by an HTTP library, because the
cap must count the decoded bytes and decompression must never produce more than the cap allows.
"""

from __future__ import annotations

import zlib

from moderation.media.fetching.errors import FetchError, FetchErrorCode

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS


def _too_large() -> FetchError:
    return FetchError(FetchErrorCode.TOO_LARGE, "the media is larger than the download limit")


def _bad_encoding(detail: str) -> FetchError:
    return FetchError(FetchErrorCode.BAD_ENCODING, f"the media host sent a body that {detail}")


def wire_limit(max_bytes: int) -> int:
    """Bytes accepted on the wire for a decoded cap of ``max_bytes``.

    Compressed data may be slightly larger than its output (stored deflate blocks, headers), so
    the wire allows a small margin; beyond it the body is refused even if it would decode small
    (e.g. endless empty deflate blocks).
    """
    return max_bytes + max_bytes // 1024 + 64 * 1024


class BodyDecoder:
    """Collects a response body, undoing ``Content-Encoding`` and enforcing ``max_bytes``.

    ``feed`` raises :class:`FetchError` ``too_large`` as soon as the decoded body (or the raw
    body, past :func:`wire_limit`) exceeds the cap, and ``bad_encoding`` for an unsupported or
    corrupt encoding. ``finish`` returns the decoded bytes.
    """

    def __init__(self, content_encoding: str | None, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._wire_limit = wire_limit(max_bytes)
        self._wire_bytes = 0
        self._output = bytearray()
        self._encoding = _normalise_encoding(content_encoding)
        self._decompressor: zlib._Decompress | None = None
        # Bytes held back until the deflate flavour (zlib-wrapped or raw) can be told.
        self._pending = b""
        if self._encoding == "gzip":
            self._decompressor = zlib.decompressobj(_GZIP_WBITS)

    def feed(self, chunk: bytes) -> None:
        """Add the next raw chunk of the body."""
        self._wire_bytes += len(chunk)
        if self._wire_bytes > self._wire_limit:
            raise _too_large()
        if self._encoding == "identity":
            self._append(chunk)
            return
        if self._decompressor is None:
            # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate:
            # the first two bytes tell which.
            self._pending += chunk
            if len(self._pending) < 2:
                return
            chunk, self._pending = self._pending, b""
            self._decompressor = zlib.decompressobj(
                _ZLIB_WBITS if _looks_like_zlib_header(chunk) else _RAW_DEFLATE_WBITS
            )
        self._inflate(chunk)

    def finish(self) -> bytes:
        """Return the decoded body; raises ``bad_encoding`` if a compressed body was cut short."""
        if self._encoding != "identity":
            if self._pending:
                raise _bad_encoding("was cut short")
            if self._decompressor is not None and not self._decompressor.eof:
                raise _bad_encoding("was cut short")
        return bytes(self._output)

    def _append(self, data: bytes) -> None:
        if len(self._output) + len(data) > self._max_bytes:
            raise _too_large()
        self._output += data

    def _inflate(self, data: bytes) -> None:
        while data and self._decompressor is not None:
            if self._decompressor.eof:
                data = self._next_member(data)
                continue
            # Never ask for more than one byte past the cap: that is what stops a bomb.
            room = self._max_bytes - len(self._output) + 1
            try:
                piece = self._decompressor.decompress(data, room)
            except zlib.error:
                raise _bad_encoding("could not be decompressed") from None
            self._append(piece)
            data = self._decompressor.unconsumed_tail or self._decompressor.unused_data

    def _next_member(self, data: bytes) -> bytes:
        """Handle bytes after the end of a compressed stream; returns what is left to inflate."""
        if self._encoding == "gzip":
            # A gzip body may hold several members, decoded one after another.
            self._decompressor = zlib.decompressobj(_GZIP_WBITS)
            return data
        # Trailing bytes after a deflate stream carry nothing; ignore them.
        return b""


def _looks_like_zlib_header(data: bytes) -> bool:
    cmf, flg = data[0], data[1]
    return cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0


def _normalise_encoding(content_encoding: str | None) -> str:
    value = (content_encoding or "").strip().lower()
    if value in ("", "identity"):
        return "identity"
    if value in ("gzip", "x-gzip"):
        return "gzip"
    if value == "deflate":
        return "deflate"
    raise _bad_encoding("uses an unsupported content encoding")
