"""``post_json``: one outbound POST (a decision callback) under the same rules as media fetches.

The address checks, the connection to the checked address, TLS and the deadline are the
fetcher's own (client.py, transport.py): a callback URL a platform registers is as untrusted as
a media URL a reporter sends. Redirects are never followed (a receiver that moves answers 3xx
and the delivery is retried, then fails), and the response body is read only up to a small cap
and thrown away: nothing a receiver says is stored or logged.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Mapping
from dataclasses import dataclass

from moderation.media.fetching.client import Resolver, exchange, system_resolver
from moderation.media.fetching.errors import FetchError, FetchErrorCode
from moderation.media.fetching.policy import FetchPolicy
from moderation.media.fetching.transport import Deadline
from moderation.media.fetching.urls import parse_target

_DRAIN_BYTES = 64 * 1024


@dataclass(frozen=True)
class PostAnswer:
    status: int
    retry_after: str | None  # the raw Retry-After header, if any
    latency_ms: int


def post_json(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    policy: FetchPolicy,
    resolver: Resolver | None = None,
) -> PostAnswer:
    """POST `body` as application/json with `headers`; the answer's status, whatever it is.
    Raises FetchError (never with the URL in it) when there is no HTTP answer at all."""
    started = time.monotonic()
    target = parse_target(url, policy)
    lines = [
        f"POST {target.request_target} HTTP/1.1",
        f"Host: {target.host_header}",
        f"User-Agent: {policy.user_agent}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    for name, value in headers.items():
        if any(ch in name + value for ch in "\r\n"):
            raise ValueError("header names and values must be one line")
        lines.append(f"{name}: {value}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    deadline = Deadline(policy.deadline)
    try:
        _, response, connection = exchange(
            target, policy, resolver or system_resolver, deadline, request, method="POST"
        )
        try:
            response.read(_DRAIN_BYTES)
            return PostAnswer(
                status=response.status,
                retry_after=response.getheader("Retry-After"),
                latency_ms=int((time.monotonic() - started) * 1000),
            )
        finally:
            response.close()
            connection.close()
    except FetchError:
        raise
    except TimeoutError:
        raise FetchError(FetchErrorCode.TIMEOUT, "the receiver did not answer in time") from None
    except (http.client.HTTPException, OSError) as exc:
        raise FetchError(
            FetchErrorCode.BAD_RESPONSE,
            f"the exchange with the receiver failed ({type(exc).__name__})",
        ) from None
