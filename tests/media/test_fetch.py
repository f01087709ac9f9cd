"""Tests for the SSRF-safe media fetcher.

A real HTTP server runs on 127.0.0.1 and is reached only through allow-listed test host names
whose stub resolver answers 127.0.0.1. Every socket connect is guarded: a connect to anything
but the local test servers fails the test, so forbidden addresses are never touched.
"""

from __future__ import annotations

import gzip
import io
import shutil
import socket
import ssl
import subprocess
import threading
import time
import traceback
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote

import av
import numpy as np
import pytest
from PIL import Image

from moderation.media.fetching import (
    FetchError,
    FetchErrorCode,
    FetchPolicy,
    fetch_url,
    is_forbidden_address,
    policy_from_config,
    sniff_type,
)
from moderation.media.fetching.decoding import BodyDecoder

TEST_HOST = "media.test"
OTHER_TEST_HOST = "other.test"
PUBLIC_ADDRESS = "93.184.216.34"  # a global address; never actually connected to

FORBIDDEN_ADDRESSES = [
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "169.254.169.254",
    "100.64.1.1",
    "224.0.0.1",
    "0.0.0.0",
    "240.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
    "192.0.0.8",
    "::1",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "64:ff9b::a00:1",
    "64:ff9b:1::1",
    "fd00::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "2002:7f00:1::",
    "2002:a00:1::",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]

PUBLIC_ADDRESSES = [
    PUBLIC_ADDRESS,
    "8.8.8.8",
    "2606:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::",
]


# --- media generated for the tests ---------------------------------------------------------


def _image_bytes(fmt: str) -> bytes:
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def _video_bytes(container: str, codec: str) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=Fraction(5, 1))
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(
                np.full((64, 64, 3), index * 60, dtype=np.uint8), format="rgb24"
            )
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


PNG = _image_bytes("PNG")


def _gzip_bomb(decoded_size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(decoded_size // len(zeros))]
    parts.append(compressor.flush())
    return b"".join(parts)


# --- local test server ---------------------------------------------------------------------


class _MediaServer(ThreadingHTTPServer):
    daemon_threads = True
    bomb: bytes
    seen: list[dict[str, str]]


class _Handler(BaseHTTPRequestHandler):
    server: _MediaServer

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        route, _, query = self.path.partition("?")
        self.server.seen.append(
            {
                "path": self.path,
                "host": self.headers.get("Host", ""),
                "accept_encoding": self.headers.get("Accept-Encoding", ""),
            }
        )
        try:
            self._route(route, parse_qs(query))
        except (BrokenPipeError, ConnectionResetError):
            return  # the fetcher gave up on purpose; nothing to do

    def _route(self, route: str, query: dict[str, list[str]]) -> None:
        if route == "/png":
            self._send(200, PNG, {"Content-Type": "text/plain", "X-Custody": "kept"})
        elif route == "/gzip":
            self._send(200, gzip.compress(PNG), {"Content-Encoding": "gzip"})
        elif route == "/deflate":
            self._send(200, zlib.compress(PNG), {"Content-Encoding": "deflate"})
        elif route == "/raw-deflate":
            compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
            body = compressor.compress(PNG) + compressor.flush()
            self._send(200, body, {"Content-Encoding": "deflate"})
        elif route == "/brotli":
            self._send(200, b"\x0b\x02\x80", {"Content-Encoding": "br"})
        elif route == "/bomb":
            self._send(200, self.server.bomb, {"Content-Encoding": "gzip"})
        elif route == "/big":
            self._send(200, bytes(2 * 1024 * 1024))
        elif route == "/big-unsized":
            # HTTP/1.0 without Content-Length: the body ends when the connection closes.
            self.send_response(200)
            self.end_headers()
            for _ in range(32):
                self.wfile.write(bytes(64 * 1024))
        elif route == "/chunked":
            self.protocol_version = "HTTP/1.1"
            self.close_connection = True
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(PNG), 1000):
                piece = PNG[start : start + 1000]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif route == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        elif route == "/silent":
            time.sleep(2)
        elif route.startswith("/redirect/"):
            remaining = int(route.rsplit("/", 1)[1])
            location = "/png" if remaining == 0 else f"/redirect/{remaining - 1}"
            self._send(302, b"", {"Location": location})
        elif route == "/to":
            self._send(
                int(query.get("status", ["302"])[0]), b"", {"Location": query["location"][0]}
            )
        elif route.startswith("/status/"):
            self._send(int(route.rsplit("/", 1)[1]), b"nope")
        else:
            self._send(404, b"")


@pytest.fixture(scope="module")
def media_server() -> Iterator[_MediaServer]:
    server = _MediaServer(("127.0.0.1", 0), _Handler)
    server.bomb = _gzip_bomb(256 * 1024 * 1024)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture()
def port(media_server: _MediaServer) -> int:
    media_server.seen.clear()
    return media_server.server_address[1]


class StubResolver:
    """Name resolution from a table; records every lookup. Unknown names fail like DNS does."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.table[host])


@pytest.fixture()
def resolver() -> StubResolver:
    return StubResolver({TEST_HOST: ["127.0.0.1"], OTHER_TEST_HOST: ["127.0.0.1"]})


@pytest.fixture(autouse=True)
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Record every outgoing connect; only loopback (the local test servers) may proceed."""
    real_create_connection = socket.create_connection
    attempts: list[tuple[str, int]] = []

    def guarded(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        attempts.append(address)
        if address[0] != "127.0.0.1":
            raise AssertionError(f"test tried to connect to {address[0]}")
        return real_create_connection(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "create_connection", guarded)
    return attempts


def _policy(**overrides: object) -> FetchPolicy:
    settings: dict[str, object] = {
        # Any port: the local test servers listen on ports the OS picks.
        "allow_hosts": frozenset({f"{TEST_HOST}:*", f"{OTHER_TEST_HOST}:*"}),
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "deadline": 5.0,
    }
    settings.update(overrides)
    return FetchPolicy(**settings)  # type: ignore[arg-type]


def _fetch_error(call: Callable[[], object]) -> FetchError:
    with pytest.raises(FetchError) as caught:
        call()
    return caught.value


# --- successful fetches --------------------------------------------------------------------


def test_fetch_through_allow_listed_host_connects_to_checked_address(
    port: int, resolver: StubResolver, connects: list[tuple[str, int]], media_server: _MediaServer
) -> None:
    result = fetch_url(f"http://{TEST_HOST}:{port}/png", _policy(), resolver)

    assert result.content == PNG
    assert result.sniffed_type == "image/png"  # from the bytes, not the server's text/plain
    assert result.status == 200
    assert result.resolved_address == "127.0.0.1"
    assert result.final_url == f"http://{TEST_HOST}:{port}/png"
    assert result.headers["x-custody"] == "kept"
    assert result.headers["content-type"] == "text/plain"
    assert result.redirects == []
    assert result.fetched_at.tzinfo is UTC
    assert resolver.calls == [(TEST_HOST, port)]
    assert connects == [("127.0.0.1", port)]
    # The original host name goes in the Host header although the socket went to the IP.
    assert media_server.seen[-1]["host"] == f"{TEST_HOST}:{port}"


@pytest.mark.parametrize("route", ["/gzip", "/deflate", "/raw-deflate", "/chunked"])
def test_content_encodings_and_chunking_are_decoded(
    route: str, port: int, resolver: StubResolver, media_server: _MediaServer
) -> None:
    result = fetch_url(f"http://{TEST_HOST}:{port}{route}", _policy(), resolver)

    assert result.content == PNG
    assert result.sniffed_type == "image/png"
    assert media_server.seen[-1]["accept_encoding"] == "gzip, deflate"


def test_unsupported_content_encoding_is_refused(port: int, resolver: StubResolver) -> None:
    error = _fetch_error(
        lambda: fetch_url(f"http://{TEST_HOST}:{port}/brotli", _policy(), resolver)
    )
    assert error.code == "bad_encoding"


def test_error_status_is_reported_with_its_code(port: int, resolver: StubResolver) -> None:
    not_found = _fetch_error(
        lambda: fetch_url(f"http://{TEST_HOST}:{port}/status/404", _policy(), resolver)
    )
    unavailable = _fetch_error(
        lambda: fetch_url(f"http://{TEST_HOST}:{port}/status/503", _policy(), resolver)
    )

    assert (not_found.code, not_found.status, not_found.transient) == ("http_status", 404, False)
    assert (unavailable.code, unavailable.status, unavailable.transient) == (
        "http_status",
        503,
        True,
    )


# --- address checks ------------------------------------------------------------------------


@pytest.mark.parametrize("address", FORBIDDEN_ADDRESSES)
def test_forbidden_address_is_blocked_before_any_connection(
    address: str, connects: list[tuple[str, int]]
) -> None:
    resolver = StubResolver({"media.example": [address]})

    error = _fetch_error(lambda: fetch_url("https://media.example/a.jpg", resolver=resolver))

    assert error.code == FetchErrorCode.BLOCKED_ADDRESS
    assert resolver.calls == [("media.example", 443)]
    assert connects == []


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_forbidden_address(address)


def test_one_private_address_among_public_ones_blocks_the_host(
    connects: list[tuple[str, int]],
) -> None:
    resolver = StubResolver({"media.example": [PUBLIC_ADDRESS, "10.1.2.3"]})

    error = _fetch_error(lambda: fetch_url("http://media.example/a.jpg", resolver=resolver))

    assert error.code == "blocked_address"
    assert connects == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://[::1]/x",
        "http://[::ffff:7f00:1]/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433/x",  # 127.0.0.1 written as one decimal number
        "http://0x7f.1/x",
    ],
)
def test_ip_literals_and_odd_ip_spellings_are_blocked(
    url: str, connects: list[tuple[str, int]]
) -> None:
    # The odd spellings are parsed by the system resolver as numbers: no DNS query is made.
    error = _fetch_error(lambda: fetch_url(url))

    assert error.code == "blocked_address"
    assert connects == []


def test_host_resolving_to_nothing_is_a_dns_failure(connects: list[tuple[str, int]]) -> None:
    empty = StubResolver({"media.example": []})
    unknown = StubResolver({})

    assert _fetch_error(lambda: fetch_url("http://media.example/", resolver=empty)).code == (
        "dns_failure"
    )
    error = _fetch_error(lambda: fetch_url("http://media.example/", resolver=unknown))
    assert (error.code, error.transient) == ("dns_failure", True)
    assert connects == []


def test_dns_rebinding_cannot_redirect_the_connection(
    monkeypatch: pytest.MonkeyPatch, port: int, media_server: _MediaServer
) -> None:
    """The first lookup answers a public address, later ones a private one (rebinding).

    The fetcher must look up once and connect to the address it checked. The patched connect
    records where it was asked to go and, instead of leaving the machine, talks to the local
    test server.
    """
    answers = iter([[PUBLIC_ADDRESS]])

    def rebinding_resolver(host: str, port_: int) -> list[str]:
        return next(answers, ["127.0.0.1"])

    requested: list[tuple[str, int]] = []
    real_connect = socket.socket.connect

    def fake_create_connection(address: tuple[str, int], *args: object, **kwargs: object):
        requested.append(address)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        real_connect(sock, ("127.0.0.1", port))
        return sock

    monkeypatch.setattr(socket, "create_connection", fake_create_connection)

    result = fetch_url("http://rebind.example/png", resolver=rebinding_resolver)

    assert requested == [(PUBLIC_ADDRESS, 80)]
    assert result.resolved_address == PUBLIC_ADDRESS
    assert result.content == PNG
    assert media_server.seen[-1]["host"] == "rebind.example"


# --- URL vetting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://media.test/a.jpg",
        "gopher://media.test:70/_x",
        "data:image/png;base64,AAAA",
        "javascript:alert(1)",
        "//media.test/a.jpg",
    ],
)
def test_non_http_schemes_are_refused(url: str, resolver: StubResolver) -> None:
    error = _fetch_error(lambda: fetch_url(url, _policy(), resolver))

    assert error.code == "bad_scheme"
    assert resolver.calls == []


def test_port_outside_80_and_443_is_refused_unless_host_is_allow_listed(
    port: int, connects: list[tuple[str, int]]
) -> None:
    resolver = StubResolver({"cdn.example": [PUBLIC_ADDRESS], TEST_HOST: ["127.0.0.1"]})

    refused = _fetch_error(lambda: fetch_url("http://cdn.example:8080/a.jpg", resolver=resolver))
    not_listed = _fetch_error(
        lambda: fetch_url(f"http://{TEST_HOST}:{port}/png", FetchPolicy(), resolver)
    )
    allowed = fetch_url(f"http://{TEST_HOST}:{port}/png", _policy(), resolver)

    assert refused.code == "bad_port"
    assert not_listed.code == "bad_port"
    assert allowed.status == 200
    assert resolver.calls == [(TEST_HOST, port)]  # refused URLs were never looked up
    assert connects == [("127.0.0.1", port)]


@pytest.mark.parametrize(
    "url",
    [
        "http://user@media.test/a.jpg",
        "http://user:secret@media.test/a.jpg",
        "http://media.test@evil.example/a.jpg",
        "http://:@media.test/a.jpg",
        "http://media.test:99999/a.jpg",
        "http://media.test:port/a.jpg",
        "http:///a.jpg",
        "http://media test/a.jpg",
        "http://media.test/a b.jpg",
        "http://media.test/a\r\nX-Injected: 1",
        "http://exa$mple.test/",
    ],
)
def test_malformed_urls_and_credentials_are_refused(url: str, resolver: StubResolver) -> None:
    error = _fetch_error(lambda: fetch_url(url, _policy(), resolver))

    assert error.code == "bad_url"
    assert resolver.calls == []


# --- redirects -----------------------------------------------------------------------------


def test_three_redirects_are_followed_and_recorded(port: int, resolver: StubResolver) -> None:
    result = fetch_url(f"http://{TEST_HOST}:{port}/redirect/2", _policy(), resolver)

    base = f"http://{TEST_HOST}:{port}"
    assert result.content == PNG
    assert result.final_url == f"{base}/png"
    assert result.redirects == [
        {"url": f"{base}/redirect/2", "address": "127.0.0.1", "status": 302},
        {"url": f"{base}/redirect/1", "address": "127.0.0.1", "status": 302},
        {"url": f"{base}/redirect/0", "address": "127.0.0.1", "status": 302},
    ]
    assert len(resolver.calls) == 4  # every hop resolved and checked again


def test_more_than_three_redirects_are_refused(
    port: int, resolver: StubResolver, media_server: _MediaServer
) -> None:
    error = _fetch_error(
        lambda: fetch_url(f"http://{TEST_HOST}:{port}/redirect/3", _policy(), resolver)
    )

    assert error.code == "too_many_redirects"
    assert len(media_server.seen) == 4  # the fourth redirect is not followed
    no_redirects = _fetch_error(
        lambda: fetch_url(
            f"http://{TEST_HOST}:{port}/redirect/0", _policy(max_redirects=0), resolver
        )
    )
    assert no_redirects.code == "too_many_redirects"


def test_redirect_to_another_host_is_resolved_again(
    port: int, resolver: StubResolver, media_server: _MediaServer
) -> None:
    location = quote(f"http://{OTHER_TEST_HOST}:{port}/png", safe="")
    result = fetch_url(
        f"http://{TEST_HOST}:{port}/to?location={location}&status=301", _policy(), resolver
    )

    assert result.content == PNG
    assert resolver.calls == [(TEST_HOST, port), (OTHER_TEST_HOST, port)]
    assert media_server.seen[-1]["host"] == f"{OTHER_TEST_HOST}:{port}"
    assert result.redirects[0]["status"] == 301


def test_the_allow_list_names_host_and_port_in_every_spelling(
    port: int, resolver: StubResolver, media_server: _MediaServer
) -> None:
    """Finding 17: with a host allow-listed, a redirect to that host on another port (or spelt
    with a trailing dot or in capitals) was followed. An entry now names its port."""
    policy = _policy(allow_hosts=frozenset({f"Media.Test.:{port}"}))
    assert fetch_url(f"http://{TEST_HOST}:{port}/png", policy, resolver).content == PNG
    with socket.socket() as other:  # a second local port, listening but never allow-listed
        other.bind(("127.0.0.1", 0))
        other.listen()
        other_port = other.getsockname()[1]
        for spelling in (TEST_HOST, TEST_HOST + ".", TEST_HOST.upper() + "."):
            location = quote(f"http://{spelling}:{other_port}/png", safe="")
            error = _fetch_error(
                lambda location=location: fetch_url(
                    f"http://{TEST_HOST}:{port}/to?location={location}&status=302", policy, resolver
                )
            )
            assert error.code == "bad_port", spelling
    # A bare host allows only the usual ports, and is exempt from the address check only there.
    bare = _policy(allow_hosts=frozenset({TEST_HOST}))
    assert _fetch_error(
        lambda: fetch_url(f"http://{TEST_HOST}:{port}/png", bare, resolver)
    ).code == ("bad_port")
    assert bare.exempts(TEST_HOST, 443) and not bare.exempts(TEST_HOST, port)
    assert not bare.exempts("other.test", 443)
    for malformed in ("host:port", "host:0", "host:70000", ":80"):
        with pytest.raises(ValueError):
            _policy(allow_hosts=frozenset({malformed}))
    v6 = _policy(allow_hosts=frozenset({"[::1]:8080", "::2"}))
    assert v6.exempts("::1", 8080) and not v6.exempts("::1:8080", 80) and v6.exempts("::2", 80)


@pytest.mark.parametrize(
    ("location", "code"),
    [
        ("http://internal.example/latest/meta-data/", "blocked_address"),
        ("http://169.254.169.254/latest/meta-data/", "blocked_address"),
        ("http://[fd00::1]/x", "blocked_address"),
        ("file:///etc/passwd", "bad_scheme"),
        ("gopher://internal.example/_x", "bad_scheme"),
        ("http://internal.example:6379/", "bad_port"),
        ("http://user:pw@internal.example/", "bad_url"),
    ],
)
def test_redirect_to_forbidden_target_is_blocked(
    location: str, code: str, port: int, connects: list[tuple[str, int]]
) -> None:
    resolver = StubResolver({TEST_HOST: ["127.0.0.1"], "internal.example": ["10.0.0.1"]})
    url = f"http://{TEST_HOST}:{port}/to?location={quote(location, safe='')}"

    error = _fetch_error(lambda: fetch_url(url, _policy(), resolver))

    assert error.code == code
    assert connects == [("127.0.0.1", port)]  # only the first, allowed hop connected


# --- limits --------------------------------------------------------------------------------


def test_gzip_bomb_is_stopped_by_the_decoded_byte_cap(port: int, resolver: StubResolver) -> None:
    policy = _policy(max_bytes=1024 * 1024)
    tracemalloc.start()
    try:
        error = _fetch_error(lambda: fetch_url(f"http://{TEST_HOST}:{port}/bomb", policy, resolver))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert error.code == "too_large"
    # The bomb inflates to 256 MiB; decoding stopped near the 1 MiB cap.
    assert peak < 16 * 1024 * 1024


def test_decoder_never_inflates_past_the_cap() -> None:
    bomb = _gzip_bomb(64 * 1024 * 1024)
    decoder = BodyDecoder("gzip", max_bytes=1000)

    with pytest.raises(FetchError) as caught:
        decoder.feed(bomb)

    assert caught.value.code == "too_large"
    assert len(decoder._output) <= 1000


@pytest.mark.parametrize("route", ["/big", "/big-unsized"])
def test_plain_body_over_the_cap_is_refused(route: str, port: int, resolver: StubResolver) -> None:
    policy = _policy(max_bytes=1024 * 1024)

    error = _fetch_error(lambda: fetch_url(f"http://{TEST_HOST}:{port}{route}", policy, resolver))

    assert error.code == "too_large"


def test_body_just_under_the_cap_is_accepted(port: int, resolver: StubResolver) -> None:
    result = fetch_url(f"http://{TEST_HOST}:{port}/png", _policy(max_bytes=len(PNG)), resolver)
    assert result.content == PNG


def test_server_trickling_bytes_hits_the_overall_deadline(
    port: int, resolver: StubResolver
) -> None:
    # Each byte arrives well within the read timeout; only the overall deadline can stop it.
    policy = _policy(read_timeout=2.0, deadline=0.6)

    error = _fetch_error(lambda: fetch_url(f"http://{TEST_HOST}:{port}/slow", policy, resolver))

    assert (error.code, error.transient) == ("timeout", True)


def test_silent_server_hits_the_read_timeout(port: int, resolver: StubResolver) -> None:
    policy = _policy(read_timeout=0.3, deadline=5.0)

    error = _fetch_error(lambda: fetch_url(f"http://{TEST_HOST}:{port}/silent", policy, resolver))

    assert error.code == "timeout"


# --- error messages ------------------------------------------------------------------------


def test_error_messages_and_tracebacks_never_contain_the_url(port: int) -> None:
    secret_host = "victim-name.test"
    resolver = StubResolver({secret_host: ["127.0.0.1"], "victim-private.test": ["10.0.0.1"]})
    policy = _policy(allow_hosts=frozenset({f"{secret_host}:*"}), read_timeout=0.3)
    base = f"http://{secret_host}:{port}"
    urls = [
        "http://victim-private.test/victim-path.jpg",
        "ftp://victim-name.test/victim-path.jpg",
        "http://victim:secret@victim-name.test/victim-path.jpg",
        "http://victim-unknown.test/victim-path.jpg",
        "http://victim-other.test:8443/victim-path.jpg",
        f"{base}/status/404?victim-path",
        f"{base}/redirect/3?victim-path",
        f"{base}/silent?victim-path",
        f"{base}/brotli?victim-path",
        f"https://{secret_host}:{port}/victim-path",  # TLS to a plain HTTP server
    ]
    errors = [_fetch_error(lambda url=url: fetch_url(url, policy, resolver)) for url in urls]

    assert len({error.code for error in errors}) >= 8
    for error in errors:
        text = "".join(traceback.format_exception(error)) + repr(error)
        assert "victim" not in text
        assert "://" not in error.message


# --- HTTPS ---------------------------------------------------------------------------------


def _openssl(command: str, *, cwd: Path) -> None:
    """Run ``openssl`` with space-separated arguments (none of them contain spaces)."""
    subprocess.run(["openssl", *command.split()], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway CA and a certificate for media.test, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed for test certificates: apt-get install openssl")
    folder = tmp_path_factory.mktemp("tls")
    new_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    _openssl(
        f"req -x509 {new_key} -keyout ca.key -out ca.pem -days 1 -subj /CN=test-ca", cwd=folder
    )
    _openssl(f"req {new_key} -keyout leaf.key -out leaf.csr -subj /CN={TEST_HOST}", cwd=folder)
    (folder / "ext.cnf").write_text(
        f"subjectAltName=DNS:{TEST_HOST}\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 1 "
        "-extfile ext.cnf",
        cwd=folder,
    )
    return folder


@pytest.fixture(scope="module")
def tls_server(tls_files: Path) -> Iterator[tuple[_MediaServer, list[str | None]]]:
    server_names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files / "leaf.pem", tls_files / "leaf.key")
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    server = _MediaServer(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.seen, server.bomb = [], b""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, server_names
    server.shutdown()
    server.server_close()


def test_https_sends_sni_and_verifies_the_certificate_against_the_host_name(
    tls_server: tuple[_MediaServer, list[str | None]], tls_files: Path, resolver: StubResolver
) -> None:
    server, server_names = tls_server
    port = server.server_address[1]
    policy = _policy(ca_file=str(tls_files / "ca.pem"))

    result = fetch_url(f"https://{TEST_HOST}:{port}/png", policy, resolver)

    assert result.content == PNG
    assert result.resolved_address == "127.0.0.1"
    assert server_names[-1] == TEST_HOST


def test_https_with_untrusted_or_mismatched_certificate_is_refused(
    tls_server: tuple[_MediaServer, list[str | None]], tls_files: Path, resolver: StubResolver
) -> None:
    port = tls_server[0].server_address[1]
    untrusted = _fetch_error(
        lambda: fetch_url(f"https://{TEST_HOST}:{port}/png", _policy(), resolver)
    )
    # other.test also resolves to the server, whose certificate names only media.test.
    mismatched = _fetch_error(
        lambda: fetch_url(
            f"https://{OTHER_TEST_HOST}:{port}/png",
            _policy(ca_file=str(tls_files / "ca.pem")),
            resolver,
        )
    )

    assert untrusted.code == "tls_error"
    assert mismatched.code == "tls_error"


# --- sniffing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
        ("AVIF", "image/avif"),
    ],
)
def test_images_made_by_pillow_are_sniffed(fmt: str, expected: str) -> None:
    assert sniff_type(_image_bytes(fmt)) == expected


@pytest.mark.parametrize(
    ("container", "codec", "expected"),
    [
        ("mp4", "libx264", "video/mp4"),
        ("mov", "libx264", "video/quicktime"),
        ("webm", "libvpx", "video/webm"),
        ("matroska", "libx264", "video/x-matroska"),
    ],
)
def test_videos_made_by_pyav_are_sniffed(container: str, codec: str, expected: str) -> None:
    assert sniff_type(_video_bytes(container, codec)) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "video/mp4"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1miafheic", "image/heif"),
        (b"\x00\x00\x00\x1cftypXXXX\x00\x00\x00\x00XXXXavifmiaf", "image/avif"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "video/quicktime"),
        (b"\x00\x00\x00\x14ftypzzzz\x00\x00\x00\x00zzzz", "application/octet-stream"),
        (b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat", "video/quicktime"),
        (b"BM this is just text that starts with BM", "application/octet-stream"),
        (b"<html><body>not media</body></html>", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_magic_bytes_decide_the_type(head: bytes, expected: str) -> None:
    assert sniff_type(head) == expected


# --- configuration -------------------------------------------------------------------------


def test_policy_from_config_reads_hosts_size_and_deadline() -> None:
    from_strings = policy_from_config(
        {
            "MEDIA_FETCH_ALLOW_HOSTS": " Media.Test, other.test. ,",
            "MEDIA_FETCH_MAX_BYTES": "1000",
            "MEDIA_FETCH_TIMEOUT": "3",
        }
    )
    from_values = policy_from_config(
        {"MEDIA_FETCH_ALLOW_HOSTS": ["media.test"], "MEDIA_FETCH_MAX_BYTES": 5}
    )
    defaults = policy_from_config({})

    assert from_strings.allow_hosts == frozenset({"media.test", "other.test"})
    assert (from_strings.max_bytes, from_strings.deadline, from_strings.connect_timeout) == (
        1000,
        3.0,
        3.0,
    )
    assert from_values.allow_hosts == frozenset({"media.test"})
    assert from_values.max_bytes == 5
    assert defaults == FetchPolicy()
    assert defaults.max_bytes == 50 * 1024 * 1024
    assert (defaults.connect_timeout, defaults.read_timeout, defaults.deadline) == (5.0, 10.0, 30.0)
    assert defaults.allowed_ports == (80, 443) and defaults.max_redirects == 3


@pytest.mark.parametrize(
    "config",
    [
        {"MEDIA_FETCH_MAX_BYTES": "lots"},
        {"MEDIA_FETCH_MAX_BYTES": 0},
        {"MEDIA_FETCH_TIMEOUT": "-1"},
        {"MEDIA_FETCH_TIMEOUT": True},
        {"MEDIA_FETCH_ALLOW_HOSTS": 42},
    ],
)
def test_policy_from_config_rejects_bad_values(config: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        policy_from_config(config)
