"""Errors raised by the media fetcher: one exception class with a stable machine-readable code."""

from __future__ import annotations

from enum import StrEnum


class FetchErrorCode(StrEnum):
    """Why a fetch failed. Values are stable: they are stored on media rows and shown in the API."""

    BAD_URL = "bad_url"
    BAD_SCHEME = "bad_scheme"
    BAD_PORT = "bad_port"
    BLOCKED_ADDRESS = "blocked_address"
    DNS_FAILURE = "dns_failure"
    CONNECT_FAILED = "connect_failed"
    TLS_ERROR = "tls_error"
    TIMEOUT = "timeout"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    TOO_LARGE = "too_large"
    HTTP_STATUS = "http_status"
    BAD_RESPONSE = "bad_response"
    BAD_ENCODING = "bad_encoding"


# Failures worth a retry later; everything else will fail the same way again.
_TRANSIENT_CODES = frozenset(
    {
        FetchErrorCode.DNS_FAILURE,
        FetchErrorCode.CONNECT_FAILED,
        FetchErrorCode.TIMEOUT,
        FetchErrorCode.BAD_RESPONSE,
    }
)


class FetchError(Exception):
    """A media download was refused or failed.

    ``code`` is a :class:`FetchErrorCode` (a ``str``, so ``err.code == "blocked_address"`` holds).
    ``status`` is the HTTP status for ``http_status`` errors, else ``None``.
    The message never contains the URL, the host name or an address: URLs of reported media are
    sensitive, and exception messages end up in logs.
    """

    def __init__(self, code: FetchErrorCode, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    @property
    def transient(self) -> bool:
        """True when retrying later may succeed (network trouble, 429 and 5xx answers)."""
        if self.code is FetchErrorCode.HTTP_STATUS:
            return self.status is not None and (self.status == 429 or self.status >= 500)
        return self.code in _TRANSIENT_CODES

    def __repr__(self) -> str:
        return f"FetchError(code={self.code.value!r}, message={self.message!r})"
