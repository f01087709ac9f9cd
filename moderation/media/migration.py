"""Copy every original the database knows from one media store to another, verifying each copy
(`moderation media migrate --to URL`, docs/STORAGE.md).

Resumable by construction: an object already in the target that reads back and hashes right is
left alone, so a run that died (or was stopped) is simply run again. Nothing is deleted from the
source: switching MEDIA_STORAGE_URL, and later removing the old store, are the operator's steps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from models import Media, MediaShred
from moderation.audit import events as audit
from moderation.core.errors import ServiceUnavailableError
from moderation.media.store import MediaIntegrityError, MediaNotFound, MediaStore, MediaStoreError

COPIED, PRESENT, MISSING = "copied", "already_present", "missing"
# After this many objects in a row fail because a store does not answer, the run stops: the
# rest would fail the same way, and a rerun resumes where this one stopped.
STOP_AFTER_UNAVAILABLE = 50
# Ids listed per outcome in the output and the audit event; the counts are always complete.
LISTED_IDS = 100


@dataclass
class MigrationResult:
    """Counts of keys (stored objects; one may serve several media) by outcome, the failure
    reasons, and the media ids of what was missing or failed (at most LISTED_IDS each)."""

    copied: int = 0
    already_present: int = 0
    missing: int = 0
    failed: int = 0
    stopped: bool = False
    reasons: Counter[str] = field(default_factory=Counter)
    missing_media_ids: list[int] = field(default_factory=list)
    failed_media_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.stopped

    def to_dict(self) -> dict[str, Any]:
        return {
            "copied": self.copied,
            "already_present": self.already_present,
            "missing": self.missing,
            "failed": self.failed,
            "stopped": self.stopped,
            "reasons": dict(sorted(self.reasons.items())),
            "missing_media_ids": self.missing_media_ids,
            "failed_media_ids": self.failed_media_ids,
        }


def stored_keys(session: Session, batch: int = 1000) -> Iterator[str]:
    """Every storage key of a medium whose bytes are meant to exist (fetched, not shredded by
    retention), each once, in key order; read in pages, so a large table is never held."""
    after = ""
    while True:
        keys = list(
            session.execute(
                select(Media.storage_key)
                .where(
                    Media.storage_key.is_not(None),
                    Media.storage_key > after,
                    ~exists().where(MediaShred.media_id == Media.id),
                )
                .distinct()
                .order_by(Media.storage_key)
                .limit(batch)
            ).scalars()
        )
        yield from keys
        if len(keys) < batch:
            return
        after = keys[-1]


def copy_object(source: MediaStore, target: MediaStore, key: str) -> tuple[str, str]:
    """Make `target` hold a verified copy of `key`; returns (outcome, reason): COPIED,
    PRESENT or MISSING with an empty reason, or ("failed", reason) where reason is a short code
    (integrity, unreadable, unavailable, io_error, verify). Never raises for a store's error."""
    try:
        try:
            target.get(key)
            return PRESENT, ""
        except MediaNotFound:
            pass
        except MediaIntegrityError:
            # A damaged copy (a run killed mid-write on a store without atomic writes, or a
            # tampered object): put() keeps whatever is already there, so it goes first.
            target.destroy(key)
        try:
            data = source.get(key)
        except MediaNotFound:
            return MISSING, ""
        except MediaIntegrityError:
            return "failed", "integrity"
        except MediaStoreError:
            return "failed", "unreadable"
        target.put(data)
        del data
        try:
            target.get(key)  # re-reads and re-checks the SHA-256
        except MediaStoreError:
            return "failed", "verify"
        return COPIED, ""
    except ServiceUnavailableError:
        return "failed", "unavailable"
    except MediaStoreError:
        return "failed", "unreadable"
    except OSError:
        return "failed", "io_error"


def migrate_media(
    session: Session,
    source: MediaStore,
    target: MediaStore,
    *,
    source_name: str,
    target_name: str,
    jobs: int = 4,
    progress: Callable[[int], None] | None = None,
) -> MigrationResult:
    """Copy every stored key (see `stored_keys`) from `source` to `target`, `jobs` objects at a
    time, and record one `media.migrate` audit event with the counts; commits. `source_name`
    and `target_name` are the stores' URLs (which never hold credentials). `progress` is called
    with the number of keys done after each batch. Plaintext stays in memory, one object per job.
    """
    result = MigrationResult()
    failed_keys: list[str] = []
    missing_keys: list[str] = []
    unavailable_in_a_row = 0
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for batch in _batches(stored_keys(session), 200):
            outcomes = pool.map(lambda key: copy_object(source, target, key), batch)
            for key, (outcome, reason) in zip(batch, outcomes, strict=True):
                if outcome == COPIED:
                    result.copied += 1
                elif outcome == PRESENT:
                    result.already_present += 1
                elif outcome == MISSING:
                    result.missing += 1
                    missing_keys.append(key)
                else:
                    result.failed += 1
                    result.reasons[reason] += 1
                    failed_keys.append(key)
                unavailable_in_a_row = unavailable_in_a_row + 1 if reason == "unavailable" else 0
            done += len(batch)
            if progress:
                progress(done)
            if unavailable_in_a_row >= STOP_AFTER_UNAVAILABLE:
                result.stopped = True
                break
    result.failed_media_ids = _media_ids(session, failed_keys)
    result.missing_media_ids = _media_ids(session, missing_keys)
    audit.record(
        session,
        "media.migrate",
        actor_kind="cli",
        object_type="media_store",
        details={"source": source_name, "target": target_name, **result.to_dict()},
    )
    session.commit()
    return result


def _batches(keys: Iterator[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _media_ids(session: Session, keys: list[str]) -> list[int]:
    """The media ids behind the first keys, for people to look up (never the keys' bytes)."""
    ids: list[int] = []
    for start in range(0, min(len(keys), LISTED_IDS), 100):
        chunk = keys[start : start + 100]
        ids += session.execute(select(Media.id).where(Media.storage_key.in_(chunk))).scalars()
    return sorted(ids)[:LISTED_IDS]
