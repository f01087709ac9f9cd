"""Behind a reverse proxy (PROXY_COUNT): the client's own address keys the rate limits, and a
forged X-Forwarded-For cannot buy a fresh budget."""

from __future__ import annotations

import pytest

from moderation import create_app
from moderation.config import ConfigurationError


def _hits(app, forwarded_for: str, times: int) -> list[int]:
    client = app.test_client()
    return [
        client.get(
            "/api/v1/platforms/none/reports/1",
            headers={"X-Forwarded-For": forwarded_for},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},  # the proxy
        ).status_code
        for _ in range(times)
    ]


def test_each_client_behind_the_proxy_has_its_own_budget(app):
    app.config["RATE_LIMIT_UNAUTHENTICATED"] = "2/minute"
    proxied = create_app({**app.config, "PROXY_COUNT": 1})
    assert _hits(proxied, "203.0.113.5", 3)[-1] == 429
    assert _hits(proxied, "203.0.113.6", 1) != [429]  # another client, another budget
    # A client that sends its own X-Forwarded-For is still keyed by what the proxy appended.
    assert _hits(proxied, "198.51.100.1, 203.0.113.5", 1) == [429]


def test_without_proxies_the_header_is_ignored(app):
    app.config["RATE_LIMIT_UNAUTHENTICATED"] = "2/minute"
    direct = create_app(dict(app.config))
    codes = _hits(direct, "203.0.113.7", 2) + _hits(direct, "203.0.113.8", 1)
    assert codes[-1] == 429  # all from 10.0.0.1, whatever the header says


def test_a_negative_count_is_refused(app):
    with pytest.raises(ConfigurationError):
        create_app({**app.config, "PROXY_COUNT": -1})
