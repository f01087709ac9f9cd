"""``fetch_url``: download reported media by URL without letting the URL reach internal networks.

Each hop resolves the host once, checks every address, connects to a checked address (so a
second, rebinding lookup can never happen), and follows at most ``max_redirects`` redirects,
each vetted the same way. Nothing here logs: URLs of reported media are sensitive.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from moderation.media.fetching.addresses import is_forbidden_address, parse_address
from moderation.media.fetching.decoding import BodyDecoder
from moderation.media.fetching.errors import FetchError, FetchErrorCode
from moderation.media.fetching.policy import FetchPolicy
from moderation.media.fetching.sniff import sniff_type
from moderation.media.fetching.transport import Deadline, DeadlineSocket, open_connection
from moderation.media.fetching.urls import Target, parse_target

Resolver = Callable[[str, int], list[str]]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchResult:
    """A downloaded body with its custody data.

    ``final_url`` is kept for custody only and must never be logged. ``resolved_address`` is
    the IP the final answer came from; ``headers`` are that answer's response headers (names
    in lower case, repeated headers joined with ", "); ``redirects`` lists each redirect hop as
    ``{"url", "address", "status"}``; ``fetched_at`` is when the body was complete (UTC).
    """

    content: bytes
    sniffed_type: str
    final_url: str
    resolved_address: str
    status: int
    headers: dict[str, str]
    redirects: list[dict[str, Any]]
    fetched_at: datetime


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for ``host`` (TCP), in its order, de-duplicated."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _resolve(target: Target, policy: FetchPolicy, resolver: Resolver) -> list[str]:
    """Addresses to connect to; every one is checked unless the host is allow-listed."""
    literal = parse_address(target.host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = [str(address) for address in resolver(target.host, target.port)]
        except (OSError, UnicodeError):
            raise FetchError(
                FetchErrorCode.DNS_FAILURE, "the media host name could not be resolved"
            ) from None
        if not addresses:
            raise FetchError(FetchErrorCode.DNS_FAILURE, "the media host name has no addresses")
    # Every address, not just the first: a host that resolves to one public and one private
    # address is refused rather than raced.
    exempt = policy.exempts(target.host, target.port)
    if not exempt and any(is_forbidden_address(address) for address in addresses):
        raise FetchError(
            FetchErrorCode.BLOCKED_ADDRESS,
            "the media host resolved to a private or reserved address",
        )
    return list(dict.fromkeys(addresses))


def _request_bytes(target: Target, policy: FetchPolicy) -> bytes:
    lines = [
        f"GET {target.request_target} HTTP/1.1",
        f"Host: {target.host_header}",
        f"User-Agent: {policy.user_agent}",
        "Accept: */*",
        "Accept-Encoding: gzip, deflate",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _collect_headers(response: http.client.HTTPResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in response.getheaders():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _read_body(response: http.client.HTTPResponse, policy: FetchPolicy) -> bytes:
    content_encoding = response.getheader("Content-Encoding")
    declared_length = response.getheader("Content-Length")
    # Refuse early when the server says the plain body is too big; the decoder still counts.
    declared_too_large = (
        not content_encoding
        and declared_length is not None
        and declared_length.isdigit()
        and int(declared_length) > policy.max_bytes
    )
    if declared_too_large:
        raise FetchError(FetchErrorCode.TOO_LARGE, "the media is larger than the download limit")
    decoder = BodyDecoder(content_encoding, policy.max_bytes)
    while chunk := response.read(_READ_CHUNK):
        decoder.feed(chunk)
    return decoder.finish()


def exchange(
    target: Target,
    policy: FetchPolicy,
    resolver: Resolver,
    deadline: Deadline,
    request: bytes | None = None,
    method: str = "GET",
) -> tuple[str, http.client.HTTPResponse, DeadlineSocket]:
    """Resolve, check, connect, send `request` (default: our GET) and read the response head
    of one hop. The caller closes the response and the connection."""
    addresses = _resolve(target, policy, resolver)
    sock, address = open_connection(
        addresses,
        target.port,
        tls_hostname=target.host if target.scheme == "https" else None,
        ca_file=policy.ca_file,
        connect_timeout=policy.connect_timeout,
        deadline=deadline,
    )
    connection = DeadlineSocket(sock, deadline, policy.read_timeout)
    answered = False
    try:
        connection.sendall(request if request is not None else _request_bytes(target, policy))
        response = http.client.HTTPResponse(connection, method=method)  # type: ignore[arg-type]
        response.begin()
        answered = True
    finally:
        if not answered:  # whatever went wrong, do not leak the socket
            connection.close()
    return address, response, connection


def _fetch(url: str, policy: FetchPolicy, resolver: Resolver, deadline: Deadline) -> FetchResult:
    redirects: list[dict[str, Any]] = []
    while True:
        target = parse_target(url, policy)
        address, response, connection = exchange(target, policy, resolver, deadline)
        try:
            status = response.status
            if status in REDIRECT_STATUSES and response.getheader("Location"):
                if len(redirects) >= policy.max_redirects:
                    raise FetchError(
                        FetchErrorCode.TOO_MANY_REDIRECTS,
                        f"the media host redirected more than {policy.max_redirects} times",
                    )
                redirects.append({"url": url, "address": address, "status": status})
                url = urljoin(url, response.getheader("Location", "").strip())
                continue
            if not 200 <= status < 300:
                raise FetchError(
                    FetchErrorCode.HTTP_STATUS,
                    f"the media host answered with HTTP status {status}",
                    status=status,
                )
            content = _read_body(response, policy)
            return FetchResult(
                content=content,
                sniffed_type=sniff_type(content),
                final_url=url,
                resolved_address=address,
                status=status,
                headers=_collect_headers(response),
                redirects=redirects,
                fetched_at=datetime.now(UTC),
            )
        finally:
            response.close()
            connection.close()


def fetch_url(
    url: str, policy: FetchPolicy | None = None, resolver: Resolver | None = None
) -> FetchResult:
    """Download ``url`` under ``policy`` (defaults: 5 s connect, 10 s read, 30 s overall, 50 MiB).

    ``resolver(host, port)`` returns the host's addresses as strings (default: the system
    resolver); tests inject a stub. Only http(s) on the policy's ports, only public addresses
    (unless the host is in ``policy.allow_hosts``), at most ``policy.max_redirects`` redirects.
    The deadline covers connects, TLS and reads of every hop; a name lookup is bounded by the
    system resolver's own timeouts and the deadline is checked right after it.

    Returns a :class:`FetchResult` for a 2xx answer. Raises :class:`FetchError` otherwise, with
    a code (see :class:`FetchErrorCode`) and a message that never contains the URL.
    """
    policy = policy or FetchPolicy()
    deadline = Deadline(policy.deadline)
    try:
        return _fetch(url, policy, resolver or system_resolver, deadline)
    except FetchError:
        raise
    except TimeoutError:
        raise FetchError(FetchErrorCode.TIMEOUT, "the media download timed out") from None
    except http.client.HTTPException as exc:
        raise FetchError(
            FetchErrorCode.BAD_RESPONSE,
            f"the media host sent a malformed response ({type(exc).__name__})",
        ) from None
    except OSError as exc:
        raise FetchError(
            FetchErrorCode.BAD_RESPONSE,
            f"the connection to the media host failed ({type(exc).__name__})",
        ) from None
