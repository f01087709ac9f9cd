"""MODERATION_REDIS_URL's two forms: plain, and Redis Sentinel (core/redis_urls.py)."""

from __future__ import annotations

import pytest

from moderation import create_app
from moderation.config import ConfigurationError
from moderation.core.redis_urls import SentinelUrl, parse_sentinel_url, where


def test_a_plain_url_is_not_sentinel() -> None:
    assert parse_sentinel_url("redis://127.0.0.1:6379/0") is None
    assert parse_sentinel_url("rediss://user:pw@redis.example:6380/2") is None


def test_sentinels_master_database_and_credentials() -> None:
    parsed = parse_sentinel_url("redis+sentinel://app:s%40cret@10.0.0.1:26380,10.0.0.2/mq/3")
    assert parsed == SentinelUrl(
        (("10.0.0.1", 26380), ("10.0.0.2", 26379)), "mq", 3, "app", "s@cret"
    )
    assert parse_sentinel_url("redis+sentinel://h:1/mq").db == 0


def test_the_rate_limiter_gets_its_own_spelling_with_the_database_in_options() -> None:
    uri, options = parse_sentinel_url("redis+sentinel://:pw@h1:1,h2:2/mq/4").limiter_uri()
    assert uri == "redis+sentinel://h1:1,h2:2/mq"
    assert options == {"db": 4, "password": "pw"}


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://",
        "redis+sentinel://h:1",
        "redis+sentinel://h:1/",
        "redis+sentinel://h:port/mq",
        "redis+sentinel://h:1/mq/first",
        "redis+sentinel://h:1/mq/0/extra",
    ],
)
def test_a_malformed_sentinel_url_stops_startup_without_repeating_it(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_app({"TESTING": True, "REDIS_URL": url.replace("//", "//:hunter2@", 1)})
    assert "MODERATION_REDIS_URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_messages_name_the_place_not_the_password() -> None:
    assert where("redis+sentinel://:pw@h1:1,h2:2/mq/0") == "h1:1,h2:2/mq/0"
    assert where("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
