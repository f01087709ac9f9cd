"""SSRF-safe download of reported media by URL: the one fetcher every job that downloads uses."""

from moderation.media.fetching.addresses import is_forbidden_address
from moderation.media.fetching.client import FetchResult, Resolver, fetch_url, system_resolver
from moderation.media.fetching.errors import FetchError, FetchErrorCode
from moderation.media.fetching.policy import FetchPolicy, policy_from_config
from moderation.media.fetching.sniff import sniff_type

__all__ = [
    "FetchError",
    "FetchErrorCode",
    "FetchPolicy",
    "FetchResult",
    "Resolver",
    "fetch_url",
    "is_forbidden_address",
    "policy_from_config",
    "sniff_type",
    "system_resolver",
]
