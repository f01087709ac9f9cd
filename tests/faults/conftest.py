"""Fault tests run against a private Redis each (never the shared one): a test may shut it down,
fill it or restart it. `redis_url` here overrides the suite's, so `app` uses it too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.harness import RedisServer


@pytest.fixture
def redis_server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    """A private redis-server; parametrize it indirectly with a tuple of redis-server options
    (`@pytest.mark.parametrize("redis_server", [("--maxmemory", "4mb")], indirect=True)`)."""
    try:
        server = RedisServer(*getattr(request, "param", ()))
    except (FileNotFoundError, RuntimeError) as exc:
        pytest.fail(f"a private redis-server could not start: {exc}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url()
