"""Triage: analyse every medium of a report, gather signals, join its cluster, compute its
priority and queue it.

Idempotent by a compare-and-set on the report row: only one worker can move a report from
`received` to `triaging`, and a report already queued is left alone. A bad file marks its media
failed with a readable reason; the report still reaches review.

Two phases: the first reads and computes (decode once, hashes, classifier, bank lookups, text
signals) without writing; the second takes the cluster lock, writes everything, joins the
cluster, prioritises and commits once, so a crash leaves nothing half-written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import (
    OPEN_STATUSES,
    Media,
    MediaKind,
    MediaState,
    Report,
    ReportStatus,
    Signal,
    SignalKind,
    utcnow,
)
from moderation.audit import events as audit
from moderation.banks.index import IndexSettings, bank_index_for
from moderation.media.analysis import ImageAnalysis, MediaAnalysisError, VideoAnalysis
from moderation.media.analysis import analyse as analyse_bytes
from moderation.media.classifiers import ManifestError
from moderation.media.fetching import FetchPolicy, policy_from_config
from moderation.media.imaging import ImageLimits
from moderation.media.store import MediaStore, MediaStoreError
from moderation.media.video import VideoLimits
from moderation.triage import clusters, signals
from moderation.triage.media_fetch import TransientFetchError, fetch_media
from moderation.triage.ownership import claim, still_claimed
from moderation.triage.policy import compute_priority, reshare_points

log = logging.getLogger(__name__)


def _threads(value: Any) -> int:
    """ONNX threads from config (an int, or its text from the environment); ManifestError."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ManifestError("ONNX_THREADS must be a positive integer") from None


@dataclass(frozen=True)
class TriageSettings:
    image_limits: ImageLimits = ImageLimits()
    stale_after: timedelta = timedelta(minutes=15)
    priority_weights: Mapping[str, int] | None = None
    fetch_policy: FetchPolicy = FetchPolicy()
    fetch_attempts: int = 3
    # A report whose triage died this many times (a file that crashes the decoder, say) is not
    # analysed again: its media fail with a reason and it goes to review as it is.
    max_attempts: int = 3
    video_limits: VideoLimits = VideoLimits()
    video_samples: int = 8
    # None turns the classifier off.
    classifier_model: str | None = "nudenet-320n"
    classifier_dirs: tuple[Path, ...] = ()
    classifier_threads: int = 1
    sla_hours: Mapping[str, Any] = field(default_factory=lambda: {"default": 72})
    # None: clusters by exact SHA-256 only (no media PDQ index).
    cluster_settings: clusters.ClusterSettings | None = None
    # None: banks are matched exactly only (MD5, SHA-256; no PDQ index of bank entries).
    bank_index: IndexSettings | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], instance_path: str) -> TriageSettings:
        # Operator model folders: MODELS_DIR (the documented MODERATION_MODELS_DIR) first.
        dirs = os.pathsep.join(
            str(config.get(key) or "") for key in ("MODELS_DIR", "CLASSIFIER_MANIFEST_DIRS")
        )
        return cls(
            image_limits=ImageLimits(
                max_pixels=int(config["IMAGE_MAX_PIXELS"]),
                max_frames=int(config["IMAGE_MAX_FRAMES"]),
            ),
            stale_after=timedelta(seconds=int(config["TRIAGE_STALE_AFTER_SECONDS"])),
            priority_weights=dict(config.get("PRIORITY_WEIGHTS") or {}),
            fetch_policy=policy_from_config(config),
            fetch_attempts=int(config["MEDIA_FETCH_MAX_ATTEMPTS"]),
            max_attempts=int(config["TRIAGE_MAX_ATTEMPTS"]),
            video_limits=VideoLimits(
                max_bytes=int(config["VIDEO_MAX_BYTES"]),
                max_duration_s=float(config["VIDEO_MAX_SECONDS"]),
                deadline_s=float(config["VIDEO_DEADLINE_SECONDS"]),
            ),
            video_samples=int(config["VIDEO_CLASSIFIER_FRAMES"]),
            classifier_model=str(config.get("CLASSIFIER_MODEL") or "") or None,
            classifier_dirs=tuple(Path(p) for p in dirs.split(os.pathsep) if p),
            classifier_threads=_threads(config["ONNX_THREADS"]),
            sla_hours=dict(config.get("SLA_HOURS") or {"default": 72}),
            bank_index=IndexSettings.from_config(config),
            cluster_settings=clusters.ClusterSettings(
                index_dir=clusters.index_directory(
                    instance_path, config.get("MEDIA_INDEX_DIR"), str(config["DATABASE_URL"])
                ),
                pdq_distance=int(config["CLUSTER_PDQ_DISTANCE"]),
                min_quality=int(config["MEDIA_MATCH_MIN_QUALITY"]),
                video_min_share=float(config["VIDEO_MATCH_MIN_SHARE"]),
            ),
        )


@dataclass
class MediaOutcome:
    """What phase one learnt about one medium, applied to its row in phase two."""

    media: Media
    analysis: ImageAnalysis | VideoAnalysis | None = None
    error: str | None = None
    size_bytes: int | None = None
    found: list[Signal] = field(default_factory=list)


def analyse_media(
    session: Session, store: MediaStore, media: Media, settings: TriageSettings
) -> MediaOutcome:
    """Decode and hash one medium, classify it and look it up in the banks. Writes nothing;
    never raises for bad data (the outcome carries a readable error instead)."""
    outcome = MediaOutcome(media)
    try:
        if media.storage_key is None:
            raise MediaStoreError("the media has not been fetched")
        data = store.get(media.storage_key)
        outcome.size_bytes = len(data)
        outcome.analysis = analyse_bytes(
            data, settings.image_limits, settings.video_limits, settings.video_samples
        )
    except (MediaStoreError, MediaAnalysisError) as exc:
        outcome.error = str(exc)
        return outcome
    del data  # the plaintext is not needed past this point
    if settings.classifier_model:
        outcome.found += signals.classify(
            media.id,
            outcome.analysis,
            settings.classifier_model,
            settings.classifier_dirs,
            settings.classifier_threads,
        )
    index = bank_index_for(settings.bank_index) if settings.bank_index else None
    outcome.found += signals.bank_signals(session, index, media.id, outcome.analysis)
    return outcome


def _apply(report: Report, outcome: MediaOutcome) -> clusters.MediaQuery | None:
    """Write one outcome to its media row and the report's signals; the query for matching."""
    media, analysis = outcome.media, outcome.analysis
    if outcome.size_bytes is not None:
        media.size_bytes = outcome.size_bytes
    if analysis is None:
        media.state, media.error = MediaState.FAILED, outcome.error
        return None
    media.sha256, media.md5 = analysis.sha256, analysis.md5
    if isinstance(analysis, ImageAnalysis):
        decoded = analysis.decoded
        media.kind = MediaKind.IMAGE
        media.pdq, media.pdq_quality = analysis.pdq, analysis.pdq_quality
        media.mime, media.width, media.height = decoded.mime, decoded.width, decoded.height
        query = clusters.MediaQuery(
            media.id, analysis.sha256, analysis.dihedral, analysis.dihedral_quality
        )
    else:
        info = analysis.info
        media.kind = MediaKind.VIDEO
        media.mime, media.width, media.height = analysis.mime, info.width, info.height
        media.duration_s = info.duration
        media.video_info = analysis.info_dict()
        query = clusters.MediaQuery(media.id, analysis.sha256, frames=analysis.frames)
    media.state, media.error = MediaState.HASHED, None
    report.signals.extend(outcome.found)
    return query


def _hashes_of(outcome: MediaOutcome) -> Sequence[Any]:
    analysis = outcome.analysis
    if isinstance(analysis, ImageAnalysis):
        return [(analysis.dihedral[0], analysis.dihedral_quality)]
    if isinstance(analysis, VideoAnalysis):
        return analysis.frames
    return []


def prioritise(
    session: Session, report: Report, settings: TriageSettings, cluster_reports: int, now: datetime
) -> None:
    """Score `report` from its stored signals and the size of its cluster."""
    facts = signals.priority_facts(report, report.signals, cluster_reports, settings.sla_hours, now)
    score, reasons = compute_priority(facts, settings.priority_weights)
    report.priority = score
    report.priority_reasons = [reason.to_dict() for reason in reasons]


def _reshare_points_of(reasons: Sequence[Any]) -> int:
    return sum(
        int(reason.get("points", 0))
        for reason in reasons or []
        if isinstance(reason, dict) and reason.get("code") == "reshares"
    )


def reprioritise_members(
    session: Session,
    report: Report,
    cluster: clusters.ClusterOutcome,
    settings: TriageSettings,
    now: datetime,
) -> list[int]:
    """Re-score open reports of the cluster whose re-share points changed as it grew.

    Once the points reach their cap nothing changes, so a huge cluster costs one light query.
    Returns the ids re-scored, in id order."""
    points = reshare_points(cluster.report_count, settings.priority_weights)
    rows = session.execute(
        select(Report.id, Report.priority_reasons)
        .where(
            Report.cluster_id == cluster.cluster_id,
            Report.id != report.id,
            Report.status.in_(OPEN_STATUSES),
        )
        # Id order, so the audit event's list does not depend on where the rows sit on disk.
        .order_by(Report.id)
    ).all()
    stale = [row.id for row in rows if _reshare_points_of(row.priority_reasons) != points]
    if not stale:
        return []
    members = session.execute(
        select(Report)
        .where(Report.id.in_(stale))
        .options(selectinload(Report.signals), selectinload(Report.media))
    ).scalars()
    for member in members:
        prioritise(session, member, settings, cluster.report_count, now)
    return stale


def _store_matches(report: Report, matches: Sequence[clusters.MediaMatch]) -> None:
    per_media: dict[int, int] = {}
    for match in sorted(matches, key=lambda m: (m.distance or 0, -(m.query_share or 0))):
        count = per_media.get(match.media_id, 0)
        if count >= clusters.MAX_MATCHES_PER_MEDIA:
            continue
        per_media[match.media_id] = count + 1
        report.signals.append(
            Signal(
                media_id=match.media_id,
                kind=SignalKind.CLUSTER,
                label=match.method,
                score=None,
                details=match.to_details(),
            )
        )


GAVE_UP = "processing stopped after repeated worker failures on this report"


def _give_up_on_media(report: Report) -> None:
    """Fail every still-pending medium so this attempt cannot crash the worker again; the
    report is still prioritised from what is known and reaches review."""
    for media in report.media:
        if media.state == MediaState.PENDING:
            media.state, media.error = MediaState.FAILED, GAVE_UP


def triage_report(
    session: Session, store: MediaStore, report_id: int, settings: TriageSettings
) -> str:
    """Triage one report end to end and commit. Returns what happened: `done`, `skipped` (not
    waiting), or `lost` (given to another triage while this one ran; nothing written)."""
    report = claim(session, report_id, settings.stale_after)
    if report is None:
        return "skipped"
    attempt = report.triage_attempts  # this claim's number, before any commit reloads the row
    if report.triage_attempts > settings.max_attempts:
        _give_up_on_media(report)
    try:
        for media in report.media:
            if media.state == MediaState.PENDING:
                fetch_media(store, media, settings.fetch_policy, settings.fetch_attempts)
    except TransientFetchError:
        # Give the report back so the retry (RQ Retry on this job) can claim it again.
        report.status = ReportStatus.RECEIVED
        session.commit()
        raise
    session.commit()  # fetched media and their custody data are kept even if triage dies
    outcomes = [
        analyse_media(session, store, media, settings)
        for media in list(report.media)
        if media.state == MediaState.PENDING
    ]
    found_in_text = signals.text_signals(report)
    language = signals.report_language(report)
    session.commit()  # end the read transaction: phase two starts with the lock

    # Phase two: nothing below autoflushes, so the report, its media, signals and hashes are
    # written by one flush at the end (audit.record's) instead of at every query. No query
    # here reads this report's own pending rows: matching excludes the report, and
    # join_cluster counts the other members.
    with session.no_autoflush:
        queries = [query for outcome in outcomes if (query := _apply(report, outcome))]
        report.signals.extend(found_in_text)
        report.language = language
        clusters.lock_clusters(session)
        # Still ours? If the sweeper gave the report away (this worker's heartbeat stalled)
        # and another worker claimed it, that worker's triage is the one that counts. The row
        # stays locked to the commit, so the sweeper cannot give it away in between. The
        # category is the row's current one: an upstream update may have raised it since the
        # claim (intake/mastodon.py; a raise after this read queues a re-score).
        category = still_claimed(session, report.id, attempt)
        if category is None:
            session.rollback()
            log.warning("report %s was given to another triage; this one stops", report.id)
            return "lost"
        report.category = category
        now = utcnow()
        cluster_outcome = None
        if queries:
            matches = clusters.find_matches(session, report.id, queries, settings.cluster_settings)
            _store_matches(report, matches)
            clusters.insert_hashes(
                session, report.id, [(o.media.id, _hashes_of(o)) for o in outcomes]
            )
            cluster_outcome = clusters.join_cluster(session, report, matches)
        prioritise(
            session, report, settings, cluster_outcome.report_count if cluster_outcome else 1, now
        )
        rescored: list[int] = []
        if cluster_outcome and cluster_outcome.report_count > 1:
            rescored = reprioritise_members(session, report, cluster_outcome, settings, now)
        report.status = ReportStatus.QUEUED
        report.queued_at = now
        audit.record(
            session,
            "report.triaged",
            actor_kind="system",
            object_type="report",
            object_id=report.id,
            details={
                "priority": report.priority,
                "cluster_id": report.cluster_id,
                "reprioritised": rescored[:100],
            },
        )
    session.commit()
    log.info(
        "report %s triaged, priority %s, cluster %s", report.id, report.priority, report.cluster_id
    )
    return "done"
