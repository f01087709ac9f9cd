"""Fetching media reported by URL into the encrypted store, with custody data kept on the row.

Used by triage for every media row that has a URL and no stored bytes yet. Transient failures
(DNS, timeouts, 5xx) leave the row pending so a retry can try again, up to a few attempts; a
permanent refusal (blocked address, too large, 404) fails it with a readable reason.
"""

from __future__ import annotations

from models import Media, MediaState
from moderation.media.fetching import FetchError, FetchPolicy, fetch_url
from moderation.media.store import MediaStore


class TransientFetchError(Exception):
    """The fetch may work later; the job should be retried."""


def fetch_media(store: MediaStore, media: Media, policy: FetchPolicy, max_attempts: int) -> None:
    """Download `media.source_url` into `store` and record custody; or mark the row failed.

    Raises TransientFetchError when a retry may help and attempts remain.
    """
    if media.source_url is None or media.storage_key is not None:
        return
    media.fetch_attempts = (media.fetch_attempts or 0) + 1
    try:
        result = fetch_url(media.source_url, policy)
    except FetchError as exc:
        if exc.transient and media.fetch_attempts < max_attempts:
            raise TransientFetchError(exc.code) from None
        media.state, media.error = MediaState.FAILED, f"could not fetch the media: {exc.message}"
        return
    media.storage_key = store.put(result.content)
    media.size_bytes = len(result.content)
    media.mime = result.sniffed_type
    media.custody = {
        "resolved_address": result.resolved_address,
        "status": result.status,
        "headers": result.headers,
        "redirects": result.redirects,
        "fetched_at": result.fetched_at.isoformat(),
        "final_url": result.final_url,
    }
