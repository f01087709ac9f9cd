"""Clusters: reports whose media match each other (same SHA-256, PDQ within the threshold in any
of the eight dihedral orientations, or a video match both ways) share one cluster, so content
re-shared a thousand times is one decision, not a thousand.

Concurrency: matching and joining run under one cluster lock (a PostgreSQL advisory transaction
lock; on SQLite the database write lock, taken by the transaction's first statement), and a
report's hashes are inserted and its cluster set in that same locked transaction. So of two
copies triaged at once, the second to take the lock sees the first's committed hashes and its
cluster: they always end in one cluster. It also makes media-hash ids grow in commit order, which
the incremental index refresh relies on. The lock is held for a lookup and a few writes only.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from models import Cluster, ClusterHit, Media, MediaHash, Report, utcnow
from moderation.audit import events as audit
from moderation.banks.index_refresh import IndexSource, RefreshingIndex, process_index
from moderation.core import locks
from moderation.media.video import FrameHash, match_videos
from moderation.pdq_index import hamming

# Candidates loaded per query hash: enough to see every cluster near a hash.
_MAX_CANDIDATES = 200
# Match signals stored per media: the UI shows a few; the cluster holds the rest.
MAX_MATCHES_PER_MEDIA = 20


@dataclass(frozen=True)
class ClusterSettings:
    index_dir: Path
    pdq_distance: int = 31
    min_quality: int = 50
    video_min_share: float = 0.7
    max_video_candidates: int = 20


@dataclass(frozen=True)
class MediaMatch:
    """One of our media (`media_id`) matching another report's (`matched_media_id`).

    `method` is sha256, pdq or video; `distance` the PDQ bits (pdq); the shares (video) are the
    fraction of each video's distinct frames found in the other."""

    media_id: int
    matched_media_id: int
    matched_report_id: int
    cluster_id: int
    method: str
    distance: int | None = None
    query_share: float | None = None
    target_share: float | None = None

    def to_details(self) -> dict[str, Any]:
        """The "cluster" signal's details (one shape with its readers: models/signals.py)."""
        return ClusterHit(
            self.matched_media_id,
            self.matched_report_id,
            self.cluster_id,
            self.distance,
            self.query_share,
            self.target_share,
        ).to_details()


@dataclass(frozen=True)
class MediaQuery:
    """What one of the report's media offers for matching."""

    media_id: int
    sha256: str | None
    dihedral: Sequence[str] = ()  # images: eight hashes, upright first
    quality: int = 0
    frames: Sequence[FrameHash] = ()  # videos


@dataclass(frozen=True)
class ClusterOutcome:
    cluster_id: int
    report_count: int
    merged: list[int]
    previous_count: int


def index_directory(instance_path: str, configured: str | None, database_url: str) -> Path:
    """The media index folder: configured, else <instance>/media-pdq-index/<database key>.

    Keyed by database so two databases on one host never share an index."""
    if configured:
        return Path(configured)
    key = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return Path(instance_path) / "media-pdq-index" / key


def _source(min_quality: int) -> IndexSource:
    def load_after(session: Session, after_id: int, limit: int) -> tuple[list[int], list[str]]:
        rows = session.execute(
            select(MediaHash.id, MediaHash.pdq)
            .where(MediaHash.id > after_id, MediaHash.quality >= min_quality)
            .order_by(MediaHash.id)
            .limit(limit)
        ).all()
        return [row.id for row in rows], [row.pdq for row in rows]

    def max_id(session: Session) -> int | None:
        return session.execute(select(func.max(MediaHash.id))).scalar_one()

    return IndexSource(load_after=load_after, max_id=max_id)


def media_index(settings: ClusterSettings) -> RefreshingIndex:
    return process_index(settings.index_dir, _source(settings.min_quality))


def lock_clusters(session: Session) -> None:
    """Take the cluster lock for the rest of this transaction. Call as its first statement."""
    locks.lock_for_transaction(session, locks.CLUSTERS, Cluster.__table__)


def find_matches(
    session: Session,
    report_id: int,
    queries: Sequence[MediaQuery],
    settings: ClusterSettings | None,
) -> list[MediaMatch]:
    """Other clustered reports' media matching `queries`. Call under the cluster lock.

    Without settings (no media index configured) only exact SHA-256 matches are found."""
    matches: list[MediaMatch] = []
    matches += _exact_matches(session, report_id, queries)
    if settings is None:
        return matches
    images = [q for q in queries if q.dihedral and q.quality >= settings.min_quality]
    videos = [q for q in queries if q.frames]
    if images or videos:
        index = media_index(settings)
        matches += _image_matches(session, index, report_id, images, settings)
        matches += _video_matches(session, index, report_id, videos, settings)
    return matches


def _exact_matches(
    session: Session, report_id: int, queries: Sequence[MediaQuery]
) -> list[MediaMatch]:
    # SHA-256 only: MD5 collisions are cheap to make and would let anyone merge clusters.
    by_sha = {q.sha256: q.media_id for q in queries if q.sha256}
    if not by_sha:
        return []
    rows = session.execute(
        select(Media.id, Media.sha256, Media.report_id, Report.cluster_id)
        .join(Report, Report.id == Media.report_id)
        .where(
            Media.sha256.in_(list(by_sha)),
            Media.report_id != report_id,
            Report.cluster_id.is_not(None),
        )
        .limit(_MAX_CANDIDATES)
    ).all()
    return [
        MediaMatch(by_sha[row.sha256], row.id, row.report_id, row.cluster_id, "sha256", 0)
        for row in rows
    ]


def _candidate_rows(session: Session, ids: set[int], report_id: int, frames: bool) -> list[Any]:
    if not ids:
        return []
    condition = MediaHash.frame.is_not(None) if frames else MediaHash.frame.is_(None)
    return list(
        session.execute(
            select(
                MediaHash.id,
                MediaHash.media_id,
                MediaHash.report_id,
                MediaHash.pdq,
                Report.cluster_id,
            )
            .join(Report, Report.id == MediaHash.report_id)
            .where(
                MediaHash.id.in_(sorted(ids)),
                condition,
                MediaHash.report_id != report_id,
                Report.cluster_id.is_not(None),
            )
        ).all()
    )


def _image_matches(
    session: Session,
    index: RefreshingIndex,
    report_id: int,
    images: Sequence[MediaQuery],
    settings: ClusterSettings,
) -> list[MediaMatch]:
    matches: list[MediaMatch] = []
    for query in images:
        found = index.search(session, list(query.dihedral), settings.pdq_distance)
        nearest = sorted({hit for hits in found for hit in hits}, key=lambda hit: hit[1])
        ids = {entry_id for entry_id, _ in nearest[:_MAX_CANDIDATES]}
        for row in _candidate_rows(session, ids, report_id, frames=False):
            # Re-check against the stored hash: the index only proposes candidates.
            distance = min(hamming(row.pdq, variant) for variant in query.dihedral)
            if distance <= settings.pdq_distance:
                matches.append(
                    MediaMatch(
                        query.media_id,
                        row.media_id,
                        row.report_id,
                        row.cluster_id,
                        "pdq",
                        distance,
                    )
                )
    return matches


def _video_matches(
    session: Session,
    index: RefreshingIndex,
    report_id: int,
    videos: Sequence[MediaQuery],
    settings: ClusterSettings,
) -> list[MediaMatch]:
    matches: list[MediaMatch] = []
    for query in videos:
        usable = sorted({f.pdq for f in query.frames if f.quality >= settings.min_quality})
        if not usable:
            continue
        found = index.search(session, usable, settings.pdq_distance)
        ids = {entry_id for hits in found for entry_id, _ in hits[:_MAX_CANDIDATES]}
        rows = _candidate_rows(session, ids, report_id, frames=True)
        hits_per_media = Counter(row.media_id for row in rows)
        owners = {row.media_id: (row.report_id, row.cluster_id) for row in rows}
        for media_id, _ in hits_per_media.most_common(settings.max_video_candidates):
            target = [
                FrameHash(row.frame, row.timestamp or 0.0, row.pdq, row.quality)
                for row in session.execute(
                    select(MediaHash).where(MediaHash.media_id == media_id)
                ).scalars()
            ]
            result = match_videos(
                query.frames,
                target,
                settings.pdq_distance,
                settings.video_min_share,
                settings.min_quality,
            )
            if result.matched:
                report, cluster = owners[media_id]
                matches.append(
                    MediaMatch(
                        query.media_id,
                        media_id,
                        report,
                        cluster,
                        "video",
                        query_share=result.query_match_share,
                        target_share=result.target_match_share,
                    )
                )
    return matches


def join_cluster(session: Session, report: Report, matches: Sequence[MediaMatch]) -> ClusterOutcome:
    """Put `report` into the cluster its matches point to, merging clusters it links (the
    smallest id survives, the others are re-pointed and marked merged, with an audit event).
    A report matching nothing starts its own cluster. The caller flushes and commits.

    Sets `report.cluster_id` in the session only: the report's own row is written by the
    caller's flush, so its count here is "the other members + this report"."""
    found = sorted({m.cluster_id for m in matches})
    if not found:
        # A new cluster's only member is this report: insert it with its final count, no
        # read-back needed (nobody else can reference a row this transaction has not committed).
        new_id = session.execute(
            insert(Cluster).values(report_count=1).returning(Cluster.id)
        ).scalar_one()
        report.cluster_id = new_id
        return ClusterOutcome(new_id, 1, [], 0)
    target_id, merged = found[0], found[1:]
    target = session.get(Cluster, target_id)
    assert target is not None  # referenced by a report row (foreign key)
    previous = target.report_count
    if merged:
        previous = max(
            previous,
            *session.execute(select(Cluster.report_count).where(Cluster.id.in_(merged))).scalars(),
        )
        session.execute(
            update(Report)
            .where(Report.cluster_id.in_(merged))
            .values(cluster_id=target_id)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Cluster)
            .where(Cluster.id.in_(merged))
            .values(merged_into_id=target_id, report_count=0, updated_at=utcnow())
        )
        audit.record(
            session,
            "cluster.merged",
            actor_kind="system",
            object_type="cluster",
            object_id=target_id,
            details={"merged": merged, "by_report": report.id},
        )
    report.cluster_id = target_id
    others = session.execute(
        select(func.count())
        .select_from(Report)
        .where(Report.cluster_id == target_id, Report.id != report.id)
    ).scalar_one()
    count = others + 1
    target.report_count = count
    target.updated_at = utcnow()
    return ClusterOutcome(target_id, count, merged, previous)


MediaHashes = Sequence[FrameHash] | Sequence[tuple[str, int]]


def insert_hashes(
    session: Session, report_id: int, hashes_by_media: Sequence[tuple[int, MediaHashes]]
) -> None:
    """Store the media's matching hashes, (media id, hashes) per media: (pdq, quality) for an
    image, a FrameHash per video frame. One executemany statement, run now (call under the
    cluster lock: ids must grow in commit order for the index's incremental refresh)."""
    rows: list[dict[str, Any]] = []
    for media_id, hashes in hashes_by_media:
        for item in hashes:
            if isinstance(item, FrameHash):
                pdq, quality = item.pdq, item.quality
                frame, timestamp = item.frame, round(item.timestamp, 3)
            else:
                (pdq, quality), frame, timestamp = item, None, None
            rows.append(
                {
                    "media_id": media_id,
                    "report_id": report_id,
                    "pdq": pdq,
                    "quality": quality,
                    "frame": frame,
                    "timestamp": timestamp,
                }
            )
    if rows:
        session.execute(insert(MediaHash), rows)
