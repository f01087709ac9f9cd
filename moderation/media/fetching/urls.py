"""Parsing and vetting of media URLs before any name lookup: scheme, credentials, host, port."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from moderation.media.fetching.addresses import parse_address
from moderation.media.fetching.errors import FetchError, FetchErrorCode
from moderation.media.fetching.policy import FetchPolicy

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 8192

# Characters kept as they are in the request target; everything else (non-ASCII) is
# percent-encoded. "%" is kept so existing escapes are not encoded twice.
_REQUEST_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~-._"


@dataclass(frozen=True)
class Target:
    """One vetted URL: where to connect and what to send."""

    url: str
    scheme: str
    host: str  # lower case, ASCII (IDNA), no brackets, no trailing dot
    port: int
    request_target: str  # path and query, as sent on the request line
    host_header: str


def _bad_url(reason: str) -> FetchError:
    return FetchError(FetchErrorCode.BAD_URL, f"the media URL {reason}")


def _ascii_host(host: str) -> str:
    host = host.rstrip(".")
    if not host:
        raise _bad_url("has no host")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise _bad_url("has an invalid international host name") from None
    if parse_address(host) is None and not all(ch.isalnum() or ch in "-._" for ch in host):
        raise _bad_url("has an invalid host name")
    return host


def parse_target(url: str, policy: FetchPolicy) -> Target:
    """Vet ``url`` against ``policy`` without touching the network.

    Raises :class:`FetchError`: ``bad_scheme`` unless http(s); ``bad_url`` for credentials
    (``user@host``), a missing or malformed host or port, control characters or whitespace;
    ``bad_port`` for a port outside ``policy.allowed_ports`` unless the host is allow-listed.
    """
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise _bad_url("is missing or too long")
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        raise _bad_url("contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise FetchError(FetchErrorCode.BAD_SCHEME, "the media URL is not http or https")
        # Credentials in a URL are refused outright: they are a classic way to disguise the
        # real host ("https://trusted.example@evil.example/") and would leak into custody data.
        if "@" in parts.netloc:
            raise _bad_url("carries credentials")
        host = _ascii_host(parts.hostname or "")
        port = DEFAULT_PORTS[scheme] if parts.port is None else parts.port
    except ValueError:
        raise _bad_url("has an invalid host or port") from None
    if not policy.allows_port(host, port):
        raise FetchError(FetchErrorCode.BAD_PORT, "the media URL uses a port that is not allowed")
    request_target = parts.path or "/"
    if parts.query:
        request_target += "?" + parts.query
    host_in_header = f"[{host}]" if ":" in host else host
    if port != DEFAULT_PORTS[scheme]:
        host_in_header += f":{port}"
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        request_target=quote(request_target, safe=_REQUEST_TARGET_SAFE),
        host_header=host_in_header,
    )
