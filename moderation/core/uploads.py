"""Uploads stay in memory: no plaintext image byte touches the disk while a request is parsed.

Werkzeug spools a multipart file part over 500 KB to a temporary file, so a victim's portal
upload or an admin's bank query image would sit unencrypted on disk (and in whatever backs
/tmp) while it is received. Every file part is kept in a BytesIO instead; the request as a whole
is already bounded by MAX_CONTENT_LENGTH (413 beyond it), so memory per request is bounded too.
"""

from __future__ import annotations

from io import BytesIO
from typing import IO

from flask import Flask, Request


class InMemoryUploadRequest(Request):
    """A request whose multipart file parts are parsed into memory, never a temporary file."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return BytesIO()


def init_uploads(app: Flask) -> None:
    """Parse every request's uploads in memory (see the module docstring)."""
    if not app.config.get("MAX_CONTENT_LENGTH"):
        # Without a bound, in-memory parsing would let one request take all memory.
        raise RuntimeError("MAX_CONTENT_LENGTH must be set when uploads are kept in memory")
    app.request_class = InMemoryUploadRequest
