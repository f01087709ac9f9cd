"""Sockets for one HTTP exchange: connect to an already checked IP, TLS, and a hard deadline.

Every socket operation is bounded by both the per-read timeout and the time left until the
overall deadline, so a server that trickles bytes cannot hold a worker past the deadline.
"""

from __future__ import annotations

import io
import socket
import ssl
import time

from moderation.media.fetching.errors import FetchError, FetchErrorCode


class Deadline:
    """A point on the monotonic clock after which a fetch must give up."""

    def __init__(self, seconds: float) -> None:
        self._expires_at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; raises :class:`TimeoutError` once the deadline has passed."""
        left = self._expires_at - time.monotonic()
        if left <= 0:
            raise TimeoutError("fetch deadline passed")
        return left


class DeadlineSocket:
    """The subset of the socket interface that ``http.client.HTTPResponse`` uses.

    Re-arms the socket timeout before every send and receive as
    ``min(read_timeout, time left until the deadline)``.
    """

    def __init__(self, sock: socket.socket, deadline: Deadline, read_timeout: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._read_timeout = read_timeout

    def _arm(self) -> None:
        self._sock.settimeout(min(self._read_timeout, self._deadline.remaining()))

    def sendall(self, data: bytes) -> None:
        self._arm()
        self._sock.sendall(data)

    def recv_into(self, buffer: memoryview | bytearray) -> int:
        self._arm()
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        if mode != "rb":
            raise ValueError("DeadlineSocket only supports binary reading")
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        self._sock.close()


class _DeadlineReader(io.RawIOBase):
    def __init__(self, owner: DeadlineSocket) -> None:
        super().__init__()
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        return self._owner.recv_into(buffer)


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying client context (system trust store, plus ``ca_file`` when given)."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def open_connection(
    addresses: list[str],
    port: int,
    *,
    tls_hostname: str | None,
    ca_file: str | None,
    connect_timeout: float,
    deadline: Deadline,
) -> tuple[socket.socket, str]:
    """Connect to the first reachable address of ``addresses`` (already checked by the caller).

    With ``tls_hostname`` the connection is wrapped in TLS, sending it as SNI and verifying the
    certificate against it. Returns the socket and the address connected to. Raises
    :class:`FetchError` ``timeout``, ``connect_failed`` or ``tls_error``.
    """
    failure = FetchErrorCode.CONNECT_FAILED
    for address in addresses:
        try:
            timeout = min(connect_timeout, deadline.remaining())
            # The address is numeric, so create_connection does no name lookup of its own:
            # the socket goes exactly where the checks said it may.
            sock = socket.create_connection((address, port), timeout=timeout)
        except TimeoutError:
            failure = FetchErrorCode.TIMEOUT
            continue
        except OSError:
            continue
        if tls_hostname is None:
            return sock, address
        return _wrap_tls(sock, tls_hostname, ca_file, connect_timeout, deadline), address
    if failure is FetchErrorCode.TIMEOUT:
        raise FetchError(failure, "connecting to the media host timed out")
    raise FetchError(failure, "could not connect to the media host")


def _wrap_tls(
    sock: socket.socket,
    hostname: str,
    ca_file: str | None,
    connect_timeout: float,
    deadline: Deadline,
) -> socket.socket:
    try:
        sock.settimeout(min(connect_timeout, deadline.remaining()))
        return tls_context(ca_file).wrap_socket(sock, server_hostname=hostname)
    except TimeoutError:
        sock.close()
        raise FetchError(FetchErrorCode.TIMEOUT, "the TLS handshake timed out") from None
    except ssl.SSLCertVerificationError:
        sock.close()
        raise FetchError(
            FetchErrorCode.TLS_ERROR, "the media host's TLS certificate was not accepted"
        ) from None
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        # The class name is safe to show; the message may name the host.
        raise FetchError(
            FetchErrorCode.TLS_ERROR, f"the TLS handshake failed ({type(exc).__name__})"
        ) from None
