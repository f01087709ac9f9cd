"""Limits for media downloads, and how they are read from the application's configuration."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class FetchPolicy:
    """What one call to ``fetch_url`` may do.

    Timeouts are in seconds: ``connect_timeout`` per TCP connect, ``read_timeout`` per socket read,
    ``deadline`` for the whole fetch including redirects. ``max_bytes`` caps the body after
    content decoding. ``allow_hosts`` are entries ``host`` (that host on the allowed ports),
    ``host:port`` (that host on that port too) or ``host:*`` (any port) exempt from the address
    check: for operators' testing against local servers, never for production. Host names are
    compared normalised (lower case, IDNA, no trailing dot, IPv6 without brackets), so no other
    spelling or port of an allowed host slips through a redirect. ``ca_file`` adds a CA bundle
    to the system trust store (private PKI, tests).
    """

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    deadline: float = 30.0
    max_bytes: int = DEFAULT_MAX_BYTES
    max_redirects: int = 3
    allowed_ports: tuple[int, ...] = (80, 443)
    allow_hosts: frozenset[str] = field(default_factory=frozenset)
    ca_file: str | None = None
    user_agent: str = "moderation-media-fetcher/1"

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "deadline"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FetchPolicy.{name} must be a positive number of seconds")
        if self.max_bytes <= 0:
            raise ValueError("FetchPolicy.max_bytes must be positive")
        if self.max_redirects < 0:
            raise ValueError("FetchPolicy.max_redirects must not be negative")
        entries = (allow_entry(entry) for entry in self.allow_hosts if entry.strip())
        object.__setattr__(self, "allow_hosts", frozenset(entries))

    def exempts(self, host: str, port: int) -> bool:
        """Whether `host` (as `parse_target` normalises it) on `port` is allow-listed."""
        return bool(
            {f"{host} {port}", f"{host} *"} & self.allow_hosts
            or (port in self.allowed_ports and host in self.allow_hosts)
        )

    def allows_port(self, host: str, port: int) -> bool:
        return port in self.allowed_ports or self.exempts(host, port)


def normalise_host(host: str) -> str:
    """The one spelling of a host name that comparisons use (see `FetchPolicy`)."""
    host = host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    return host


def allow_entry(entry: str) -> str:
    """`host`, `host:port` or `host:*`, normalised to `host`, `host port` or `host *` (a space:
    the one separator no host spelling, IPv6 included, can contain). Raises ValueError."""
    entry = entry.strip()
    host, port = entry, ""
    if entry.startswith("["):  # [v6]:port
        host, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    host = normalise_host(host)
    if not host or (port and port != "*" and not (port.isdigit() and 0 < int(port) < 65536)):
        raise ValueError(f"MEDIA_FETCH_ALLOW_HOSTS has a malformed entry: {entry!r}")
    return f"{host} {port}" if port else host


def host_list(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(part for part in value.split(",") if part.strip())
    if isinstance(value, Iterable):
        return frozenset(str(part) for part in value)
    raise ValueError("MEDIA_FETCH_ALLOW_HOSTS must be a comma-separated string or a list")


def _number(mapping: Mapping[str, Any], key: str, kind: type[int] | type[float]) -> Any:
    value = mapping.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{key} must be a number")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number") from None


def policy_from_config(mapping: Mapping[str, Any]) -> FetchPolicy:
    """Build a policy from a dict-like config (e.g. ``app.config``).

    Reads ``MEDIA_FETCH_ALLOW_HOSTS`` (comma-separated string or list), ``MEDIA_FETCH_MAX_BYTES``
    (int) and ``MEDIA_FETCH_TIMEOUT`` (overall deadline, seconds); missing keys keep the defaults.
    Connect and read timeouts are capped at the deadline. Raises ``ValueError`` on bad values.
    """
    defaults = FetchPolicy()
    max_bytes = _number(mapping, "MEDIA_FETCH_MAX_BYTES", int)
    deadline = _number(mapping, "MEDIA_FETCH_TIMEOUT", float)
    deadline = defaults.deadline if deadline is None else deadline
    return FetchPolicy(
        connect_timeout=min(defaults.connect_timeout, deadline),
        read_timeout=min(defaults.read_timeout, deadline),
        deadline=deadline,
        max_bytes=defaults.max_bytes if max_bytes is None else max_bytes,
        allow_hosts=host_list(mapping.get("MEDIA_FETCH_ALLOW_HOSTS")),
    )
