"""SSRF-safe download of reported media by URL: the one fetcher every job that downloads uses."""

from moderation.fetching.addresses import is_forbidden_address
from moderation.fetching.client import FetchResult, Resolver, fetch_url, system_resolver
from moderation.fetching.errors import FetchError, FetchErrorCode
from moderation.fetching.policy import FetchPolicy, policy_from_config
from moderation.fetching.sniff import sniff_type

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
