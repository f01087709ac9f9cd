"""MODERATION_REDIS_URL in its two forms: a plain `redis://` (or `rediss://`, `unix://`) URL,
or Redis Sentinel, `redis+sentinel://[[user]:password@]host:port,host:port/mastername/db`.

With Sentinel, every connection asks the sentinels which server is the primary of `mastername`
and asks again when it loses it, so a failover moves intake, workers and the cron to the new
primary without a restart. The password (if any) is the data servers' and the sentinels' alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from redis import Redis
from redis.sentinel import Sentinel

SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True)
class SentinelUrl:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None

    def limiter_uri(self) -> tuple[str, dict[str, Any]]:
        """Flask-Limiter's (limits') form of this URL, which names no database, and the
        options that carry the database and credentials."""
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        options: dict[str, Any] = {"db": self.db}
        if self.password is not None:
            options["password"] = self.password
        if self.username is not None:
            options["username"] = self.username
        return f"{SENTINEL_SCHEME}://{hosts}/{self.master}", options


def parse_sentinel_url(url: str) -> SentinelUrl | None:
    """The Sentinel form of `url`, None for a plain Redis URL; ValueError for a Sentinel URL
    without sentinels or a master name, or with a bad port or database. Messages never repeat
    the URL (it may hold a password)."""
    if not url.startswith(f"{SENTINEL_SCHEME}://"):
        return None
    rest = url[len(SENTINEL_SCHEME) + 3 :]
    credentials, _, hosts_and_path = rest.rpartition("@")
    hosts, _, path = hosts_and_path.partition("/")
    parts = [part for part in path.split("/") if part]
    if not hosts or not parts or len(parts) > 2:
        raise ValueError("a Sentinel URL is redis+sentinel://host:port,host:port/mastername/db")
    sentinels = []
    for item in hosts.split(","):
        parsed = urlsplit(f"//{item}")
        try:
            port = parsed.port or 26379
        except ValueError:
            raise ValueError("a sentinel's port must be a number") from None
        if not parsed.hostname:
            raise ValueError("a sentinel needs a host")
        sentinels.append((parsed.hostname, port))
    if len(parts) == 2 and not parts[1].isdigit():
        raise ValueError("the database of a Sentinel URL must be a number")
    username, password = None, None
    if credentials:
        user, has_password, secret = credentials.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password else None
    return SentinelUrl(
        tuple(sentinels), unquote(parts[0]), int(parts[1]) if len(parts) == 2 else 0,
        username, password,
    )  # fmt: skip


def connect(url: str, **options: Any) -> Redis:
    """A client for `url` (either form) with `options` (timeouts, retry) for the data server."""
    sentinel = parse_sentinel_url(url)
    if sentinel is None:
        return Redis.from_url(url, **options)
    auth = {"username": sentinel.username, "password": sentinel.password}
    auth = {key: value for key, value in auth.items() if value is not None}
    timeouts = {
        key: options[key] for key in ("socket_timeout", "socket_connect_timeout") if key in options
    }
    sentinels = Sentinel(list(sentinel.sentinels), sentinel_kwargs={**auth, **timeouts})
    return sentinels.master_for(sentinel.master, db=sentinel.db, **auth, **options)


def where(url: str) -> str:
    """`url` without credentials, for messages."""
    return url.rpartition("@")[2] if "@" in url else url
